"""Domain services: the campaign's rules, each in one place. Views and tasks call these."""
