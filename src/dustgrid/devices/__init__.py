"""Device registry, onboarding, online state and offline periods."""
