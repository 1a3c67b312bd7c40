// (placeholder: filled by the conv kernels)
