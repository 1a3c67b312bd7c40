// (placeholder: filled by the batchnorm kernels)
