"""The sampling layer: noise, spherical walks in the latent space, and the
samplers that use the discriminator (rejection sampling, latent Langevin)."""
