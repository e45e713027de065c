"""Officer-scoped reports: alert counts, response times, dispositions, the missed check-in
alarm rate, the holiday sweep and the monthly roster, as JSON or CSV."""
