"""Training data: dataset readers (GOT-10k, LaSOT, TrackingNet, COCO 2017), the synthetic tracking
dataset made from real photos, the frame sampler and the crop/augmentation processing."""
from .base import SequenceAnnotations, TrackingDataset
from .datasets import COCO, GOT10k, LaSOT, TrackingNet, build_dataset
from .processing import PairProcessing, ProcessingConfig, training_crop
from .sampler import EpochIndexSampler, SamplerConfig, TrackingSampler
from .synthetic import SyntheticConfig, SyntheticTracking, write_lasot_benchmark

__all__ = ["COCO", "EpochIndexSampler", "GOT10k", "LaSOT", "PairProcessing", "ProcessingConfig", "SamplerConfig",
           "SequenceAnnotations", "SyntheticConfig", "SyntheticTracking", "TrackingDataset", "TrackingNet",
           "TrackingSampler", "build_dataset", "training_crop", "write_lasot_benchmark"]
