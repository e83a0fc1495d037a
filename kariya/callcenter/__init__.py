"""callcenter domain (Q-1..Q-3): inquiries and their machine, the agent's console (look-ups of
residents and stores, the resident's timeline in plain Japanese), escalation to the city, the
business calendar, reminders, the lost-phone transfer and the call-centre reports."""
