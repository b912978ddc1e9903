"""Private helpers of the confident-learning core: input validation, kernels, (K, K) algebra."""
