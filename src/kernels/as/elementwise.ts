// (placeholder: filled by the elementwise kernels)
