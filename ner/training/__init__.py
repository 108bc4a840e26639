"""Training: configuration, the objective, the loop with its checkpoints and model selection, torchrun
plumbing and self-training."""

from ner.training.config import SelfTrainConfig, TrainConfig, load_self_train_config, load_train_config
from ner.training.loop import train
from ner.training.self_training import self_train

__all__ = ["SelfTrainConfig", "TrainConfig", "load_self_train_config", "load_train_config", "self_train", "train"]
