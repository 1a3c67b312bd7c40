// (placeholder: filled by the softmax kernels)
