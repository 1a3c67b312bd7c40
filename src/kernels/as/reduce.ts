// (placeholder: filled by the reduce kernels)
