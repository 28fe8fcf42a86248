"""Model bundles: saving and loading them (safetensors only), their weights and verification, the built-in resources, importing Hugging Face ViT-GPT2 checkpoints, the user's folders."""
