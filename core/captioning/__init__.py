"""The captioner: the VisionGPT2 model and its config, tokenizer, generation, devices and precisions, CPU threads, oneDNN packing and the out-of-memory fallback."""
