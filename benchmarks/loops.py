"""Train the project's model and data with less than train.py does, stamping each epoch.

    BENCH_STAMPS=stamps.json python loops.py {bare,plain} PROJECT_DIR [--epochs N]

bare:  a Lightning Trainer with no logger, checkpoints, progress bar, model summary or
       sanity check; deterministic like train.py's default (same numerics, so the ratio
       to full measures only what train.py adds around the loop).
plain: a hand-written PyTorch loop, train and validation each epoch, with the optimizer
       and schedule from the model's configure_optimizers; deterministic algorithms too.
Both read the classes the project's train.py imports, and write the stamps as stamp.py does.
"""

import argparse
import inspect
import os
import sys

from stamp import STAMPS_VARIABLE, Stamps, stamping_callback, write_at_exit

SEED = 42  # train.py's default --seed


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("loop", choices=["bare", "plain"])
    parser.add_argument("project", help="a baked project folder")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--data_dir", default="data")
    parser.add_argument(
        "--deterministic", choices=["true", "false"], default="true", help="as train.py's flag"
    )
    return parser.parse_args()


def project_classes(project):
    """The LightningModule and LightningDataModule classes that the project's train.py uses.

    Found by kind rather than by name, so that renamed classes are still found.
    """
    import pytorch_lightning as pl

    sys.path.insert(0, os.path.abspath(project))
    import train  # the baked project's train.py

    def one(kind):
        found = {v for v in vars(train).values() if inspect.isclass(v) and issubclass(v, kind)}
        found -= {pl.LightningModule, pl.LightningDataModule}
        if len(found) != 1:
            raise SystemExit(f"train.py imports {len(found)} subclasses of {kind.__name__}")
        return found.pop()

    return one(pl.LightningModule), one(pl.LightningDataModule)


def bare_loop(model_class, datamodule_class, args, stamps):
    import pytorch_lightning as pl

    pl.seed_everything(SEED, workers=True, verbose=False)
    trainer = pl.Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        max_epochs=args.epochs,
        deterministic=args.deterministic == "true",
        callbacks=[stamping_callback(stamps)],
    )
    datamodule = datamodule_class(data_dir=args.data_dir)
    datamodule.prepare_data()
    trainer.fit(model_for(model_class, datamodule), datamodule=datamodule)


def model_for(model_class, datamodule):
    """The model train.py builds: its defaults, and what the data module reports."""
    return model_class(**datamodule.report)


def plain_loop(model_class, datamodule_class, args, stamps):
    import pytorch_lightning as pl
    import torch
    from torch.nn import functional as F

    # As Lightning's seed_everything and deterministic=True do, so the numerics match.
    pl.seed_everything(SEED, workers=True, verbose=False)
    torch.use_deterministic_algorithms(args.deterministic == "true")
    datamodule = datamodule_class(data_dir=args.data_dir)
    datamodule.prepare_data()
    datamodule.setup("fit")
    train_loader, val_loader = datamodule.train_dataloader(), datamodule.val_dataloader()
    model = model_for(model_class, datamodule)
    optimizers = model.configure_optimizers()
    optimizer, scheduler = optimizers["optimizer"], optimizers["lr_scheduler"]
    for epoch in range(args.epochs):
        stamps.epoch_starts.append(Stamps.now())
        model.train()
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)
        for images, labels in train_loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.inference_mode():
            correct = total_loss = 0
            for images, labels in val_loader:
                logits = model(images)
                total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
                correct += (logits.argmax(dim=1) == labels).sum().item()
    stamps.train_end = Stamps.now()


def main():
    args = parse_args()
    stamps = Stamps()
    write_at_exit(stamps, os.environ.get(STAMPS_VARIABLE))
    model_class, datamodule_class = project_classes(args.project)
    loop = bare_loop if args.loop == "bare" else plain_loop
    loop(model_class, datamodule_class, args, stamps)


if __name__ == "__main__":
    main()
