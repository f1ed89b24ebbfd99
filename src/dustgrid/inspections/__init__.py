"""Field inspections (巡查记录): check-in at the site, the unified checklist, photos, results."""
