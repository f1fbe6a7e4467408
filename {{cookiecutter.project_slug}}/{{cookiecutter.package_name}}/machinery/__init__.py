"""What every run needs and you need not read to start: checkpoints, callbacks, run folders,
workers, signals and one-line errors. Your code is data.py and model.py, beside this folder."""
