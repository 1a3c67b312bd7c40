// (placeholder: filled by the pooling kernels)
