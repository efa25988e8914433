"""Team work and assessment (队伍考核): training, monthly tasks, credit, scores, bulletin."""
