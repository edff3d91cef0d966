"""Pipeline definition: configuration and the create_pipeline factory."""
