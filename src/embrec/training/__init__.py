"""Training: the config, the batch views, optimisers and schedules, the loop, lr_find."""
