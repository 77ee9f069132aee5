"""Customer lifecycle through the services: create, update, close; validation per kind; outbox events."""
