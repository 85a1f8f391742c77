"""Shared pieces of the tracking tests: a tiny random model and scripted/oracle backends."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from mixformerv2 import ModelConfig, build_model, save_checkpoint
from mixformerv2.tracking.backends import TrackerBackend
from mixformerv2.geometry import IMAGENET_MEAN, IMAGENET_STD

TINY = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=1, template_size=32, search_size=64, num_bins=16)


@pytest.fixture(scope="session")
def tiny_model():
    torch.manual_seed(0)
    return build_model(TINY).eval()


@pytest.fixture(scope="session")
def tiny_weights(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_checkpoint(tiny_model, path)
    return path


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def denormalize(crop: np.ndarray) -> np.ndarray:
    """(3, S, S) normalised float32 -> (S, S, 3) uint8."""
    mean = np.asarray(IMAGENET_MEAN, np.float32)[:, None, None]
    std = np.asarray(IMAGENET_STD, np.float32)[:, None, None]
    return np.clip(np.rint((crop * std + mean) * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)


class ScriptedBackend(TrackerBackend):
    """Predicts a fixed box (cx, cy, w, h normalised) and the scripted score logits, frame after frame;
    records every template encoding."""

    name = "scripted"

    def __init__(self, config: ModelConfig, logits, box=(0.5, 0.5, 0.2, 0.2)):
        self.config = config
        self.logits = list(logits)
        self.box = np.asarray(box, np.float32)
        self.frame = 0
        self.encodings = []  # (template, online) arrays of every (re)encode

    def encode(self, template, online):
        self.encodings.append((template.copy(), online.copy()))
        return len(self.encodings)

    def search(self, cache, search):
        n = search.shape[0]
        logit_ = self.logits[self.frame]
        self.frame += 1
        return np.tile(self.box, (n, 1)), np.full(n, logit_, np.float32)

    def select(self, cache, index):
        return cache


class MatchingBackend(TrackerBackend):
    """A hand-set 'network' for square targets: finds the centre of the template crop in the search crop
    by normalised cross-correlation, and holds the previous box when the match is poor. It knows nothing
    of frame coordinates, so it tracks only if the tracker's crops and map-back are right."""

    name = "matching"

    def __init__(self, config: ModelConfig, template_factor: float, search_factor: float):
        self.config = config
        self.tf, self.sf = template_factor, search_factor

    def encode(self, template, online):
        return template.copy()

    def search(self, cache, search):
        t_size, s_size = self.config.template_size, self.config.search_size
        boxes, logits = [], []
        for template, crop in zip(cache, search):
            t_img, s_img = denormalize(template), denormalize(crop)
            inner = int(round(t_size / self.tf))                  # the target's side in the template crop
            lo = (t_size - inner) // 2
            target = t_img[lo:lo + inner, lo:lo + inner]
            side = max(4, int(round(inner * (s_size / t_size) * (self.tf / self.sf))))
            target = cv2.resize(target, (side, side), interpolation=cv2.INTER_AREA)
            scores = cv2.matchTemplate(s_img, target, cv2.TM_CCOEFF_NORMED)
            _, best, _, (x, y) = cv2.minMaxLoc(scores)
            if best > 0.8:
                boxes.append([(x + side / 2) / s_size, (y + side / 2) / s_size, side / s_size, side / s_size])
                logits.append(4.0)
            else:  # not found: hold the previous box (the crop centre, the target's size)
                boxes.append([0.5, 0.5, side / s_size, side / s_size])
                logits.append(-4.0)
        return np.asarray(boxes, np.float32), np.asarray(logits, np.float32)

    def select(self, cache, index):
        return cache[list(index)]
