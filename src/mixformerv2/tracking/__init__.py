"""Tracking: the Tracker facade, its parameters, crop/map-back arithmetic, backends and frame sources;
OpenCV's trackers behind the same interface as baselines."""
from .backends import TrackerBackend, available_backends, create_backend, register_backend
from .baselines import OpenCVTracker, available_opencv_trackers
from .frames import as_rgb_frame
from .geometry import CropWindow, clip_box, crop_frame, crop_window, map_box_back, normalize_crop, sample_crop
from .params import BENCHMARKS, TrackerParams
from .pretrained import DEFAULT_MODEL, BundledModelMissingError, WeightsRequiredError, load_model
from .tracker import StepTimings, Tracker, TrackResult, check_box

__all__ = ["BENCHMARKS", "BundledModelMissingError", "CropWindow", "DEFAULT_MODEL", "OpenCVTracker", "StepTimings", "TrackResult", "Tracker", "TrackerBackend",
           "TrackerParams", "WeightsRequiredError", "as_rgb_frame", "available_backends", "available_opencv_trackers",
           "check_box", "clip_box", "create_backend", "crop_frame", "crop_window", "load_model", "map_box_back",
           "normalize_crop", "register_backend", "sample_crop"]
