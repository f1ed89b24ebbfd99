"""Heavy-pollution weather emergencies: warnings, emergency orders per site, compliance."""
