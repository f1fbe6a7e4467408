"""The data and the model of this project (yours to edit), and the machinery every run needs."""
