"""The Chinese working-day calendar: which days count towards a public notice of N
working days (the chinesecalendar package, and the years staff entered from the State
Council's notices)."""
