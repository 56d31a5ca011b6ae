"""The seed's entry point, kept so `docker run IMAGE python train.py --job-id ...` needs no change: it becomes the
trainer itself (exec, so signals and the exit code are the trainer's own)."""
import os
import sys

main = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dist", "main.js")
os.execvp("node", ["node", main, *sys.argv[1:]])
