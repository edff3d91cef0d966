"""User code run by Transform and Trainer: preprocessing_fn, model builders, run_fn."""
