"""Training VisionCap's captioner: dataset readers, metrics, a synthetic dataset and the loop."""
