"""Writes a tiny transformers model and its image processor to a folder, built from a config (nothing downloaded):

    python make_tiny_model.py classify|detect|vit <out_dir> [imgsz]

classify: a ResNet image classifier; vit: a ViT one; detect: DETR with a small ResNet backbone built from its config
(use_timm_backbone=False, use_pretrained_backbone=False). Each trains a step in well under a second on a CPU."""

import sys

from transformers import (
    DetrConfig,
    DetrForObjectDetection,
    DetrImageProcessor,
    ResNetConfig,
    ResNetForImageClassification,
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessor,
)


def main(kind, out, size):
    labels = {0: "a", 1: "b"}
    if kind == "classify":
        config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 16], depths=[1, 1, 1, 1], layer_type="basic", num_labels=2, id2label=labels)
        model = ResNetForImageClassification(config)
        processor = ViTImageProcessor(size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    elif kind == "vit":
        config = ViTConfig(image_size=size, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, num_labels=2, id2label=labels)
        model = ViTForImageClassification(config)
        processor = ViTImageProcessor(size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    elif kind == "detect":
        backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 32], depths=[1, 1, 1, 1], layer_type="basic", out_features=["stage4"])
        config = DetrConfig(
            use_timm_backbone=False,
            backbone_config=backbone,
            use_pretrained_backbone=False,
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            num_queries=8,
            num_labels=2,
            id2label=labels,
        )
        model = DetrForObjectDetection(config)
        processor = DetrImageProcessor(size={"height": size, "width": size}, do_pad=True)
    else:
        raise SystemExit(f"unknown kind {kind}")
    model.save_pretrained(out)
    processor.save_pretrained(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 64)
