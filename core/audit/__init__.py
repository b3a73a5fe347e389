"""The audit: the action log read by owners, narrowed by person, project and days, with each entry's change told in
a line of text and the people and projects named as the pages name them. Secrets never come out of it."""
