"""The jobs: the self-check (the main job), the soak, and golden test vectors."""
