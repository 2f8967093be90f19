"""The scheduler's pure core: cron ticks, template rendering, GitHub deliveries, fire records."""
