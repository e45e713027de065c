"""Registry: jurisdictions, persons, monitoring orders, devices and fences."""
