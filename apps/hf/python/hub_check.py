"""Preflight for trainer-hf: what `--model-name` is, before any dataset download.

    python hub_check.py <model-name>

prints one JSON line: {"status": "ok", "path": ..., "model_type": ..., "architecture": ..., "task": ...,
"supports": {"classify": bool, "detect": bool}}, or {"status": "invalid" | "unknown" | "unreachable", "message": ...}.
`invalid`/`unknown` are the user's to fix (exit 3); `unreachable` is the hub being down (exit 1, retried). Only
config.json is fetched (into HF_HOME, inside WORK_DIR), never the weights.
"""

import json
import os
import sys
from pathlib import Path

TASK_SUFFIXES = (("ForImageClassification", "classify"), ("ForObjectDetection", "detect"))


def model_folder(path):
    """save_pretrained output, or an unpacked archive holding it one folder down."""
    if (path / "config.json").is_file():
        return path
    subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(subdirs) == 1 and (subdirs[0] / "config.json").is_file():
        return subdirs[0]
    return None


def supported_types():
    """The model types with an image-classification or an object-detection head, from transformers' own tables.
    Importing them (modeling_auto) imports torch: 3.5 s of CPU, while the bridge imports the same beside this check
    on the job's cores. The tables are literals, so they are read from the module's source with `ast`; the import
    stays as the fallback for a transformers that writes them otherwise."""
    try:
        return _types_from_source()
    except Exception:  # noqa: BLE001 - any surprise in the source: the import is slower, never wrong
        return _types_imported()


TABLES = {"classify": "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES", "detect": "MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES"}


def _types_from_source():
    import ast
    import importlib.util

    package = importlib.util.find_spec("transformers").submodule_search_locations[0]
    tree = ast.parse((Path(package) / "models" / "auto" / "modeling_auto.py").read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            task = next((t for t, name in TABLES.items() if name == node.targets[0].id), None)
            if task and isinstance(node.value, ast.Call) and len(node.value.args) == 1:
                found[task] = set(dict(ast.literal_eval(node.value.args[0])))
    if set(found) != set(TABLES) or not all(found.values()):
        raise LookupError(f"modeling_auto.py: {sorted(set(TABLES) - set(found))} not found as literals")
    return found


def _types_imported():
    from transformers.models.auto import modeling_auto

    return {task: set(getattr(modeling_auto, name)) for task, name in TABLES.items()}


def describe(config):
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    task = next((t for arch in architectures for suffix, t in TASK_SUFFIXES if str(arch).endswith(suffix)), None)
    types = supported_types()
    supports = {t: model_type in names for t, names in types.items()}
    if task is None and sum(supports.values()) == 1:
        task = next(t for t, ok in supports.items() if ok)
    return {"model_type": model_type, "architecture": architectures[0] if architectures else None, "task": task, "supports": supports}


def check(name):
    path = Path(name)
    if path.is_dir():
        folder = model_folder(path)
        if folder is None:
            return {"status": "invalid", "message": f"{name}: no config.json in the folder (expected save_pretrained output)"}
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except ValueError as e:
            return {"status": "invalid", "message": f"{folder / 'config.json'}: not valid JSON ({e})"}
        return {"status": "ok", "path": str(folder), **describe(config)}
    if path.is_absolute() or name.startswith(("./", "../")) or path.exists():
        return {"status": "invalid", "message": f"{name}: no such folder"}
    return check_hub(name)


def check_hub(repo_id):
    from huggingface_hub import hf_hub_download
    from huggingface_hub import errors

    try:
        config_path = hf_hub_download(repo_id, "config.json", token=os.environ.get("HF_TOKEN") or None)
    except errors.GatedRepoError:
        return {"status": "unknown", "message": f"{repo_id}: a gated model; set HF_TOKEN to a token with access to it"}
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError):
        return {"status": "unknown", "message": f"{repo_id}: no such model on the Hugging Face hub"}
    except errors.LocalEntryNotFoundError as e:
        # Raised for a hub it cannot connect to (and for HF_HUB_OFFLINE without a cached copy); a subclass of
        # EntryNotFoundError, so it is caught first.
        return {"status": "unreachable", "message": f"{repo_id}: the Hugging Face hub cannot be reached and no copy is cached ({str(e).splitlines()[0][:200]})"}
    except errors.EntryNotFoundError:
        return {"status": "invalid", "message": f"{repo_id}: the hub model has no config.json (not a transformers model)"}
    except errors.HFValidationError as e:
        return {"status": "invalid", "message": f"{repo_id}: not a hub model id ({e})"}
    except Exception as e:  # noqa: BLE001 - connection refused, timeouts, 5xx: the hub is down, a retry may help
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return {"status": "unreachable", "message": f"{repo_id}: the Hugging Face hub cannot be reached ({type(e).__name__}: {first[:300]})"}
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    return {"status": "ok", "path": repo_id, **describe(config)}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(check(sys.argv[1])) + "\n")
