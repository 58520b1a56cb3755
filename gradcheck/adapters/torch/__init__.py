"""PyTorch: `check_module`, and how torch activations and losses read as the reference's."""
