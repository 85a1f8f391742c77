import json

from mixformerv2.cli import main


def test_info_reports_parameters_and_macs(capsys):
    assert main(["info", "--model", "s", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "mixformerv2-s"
    assert report["parameters"]["total"] == 16_228_897
    assert round(report["macs"]["search_step"] / 1e9, 2) == 3.32


def test_info_rejects_a_checkpoint_of_another_model(tmp_path, capsys):
    from mixformerv2 import build_model, save_checkpoint

    save_checkpoint(build_model(dict(embed_dim=64, depth=1, num_heads=4, mlp_ratio=1, template_size=32,
                                     search_size=64, num_bins=8)), tmp_path / "tiny.safetensors")
    assert main(["info", "--model", "s", "--weights", str(tmp_path / "tiny.safetensors")]) == 2
    assert "does not fit the model mixformerv2-s" in capsys.readouterr().err
