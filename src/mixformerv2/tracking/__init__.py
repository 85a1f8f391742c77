"""Tracking: the Tracker facade, its parameters, backends, frame sources and the one tracking loop; OpenCV's
trackers behind the same interface as baselines. (Crop arithmetic: ``mixformerv2.geometry``; models and their
cards: ``mixformerv2.model.hub``.)"""
from .backends import TrackerBackend, available_backends, create_backend, register_backend
from .baselines import OpenCVTracker, available_opencv_trackers
from .params import BENCHMARKS, TrackerParams, params_for_model
from .tracker import StepTimings, Tracker, TrackResult, check_box

__all__ = ["BENCHMARKS", "OpenCVTracker", "StepTimings", "TrackResult", "Tracker", "TrackerBackend", "TrackerParams",
           "available_backends", "available_opencv_trackers", "check_box", "create_backend", "params_for_model",
           "register_backend"]
