#!/bin/sh
# The image's ENTRYPOINT. Flags (or nothing, or a subcommand) go to the trainer: `docker run IMAGE --job-id …`.
# Anything else is a command to run instead, so the seed's `docker run IMAGE python train.py --job-id …` still works
# (train.py hands its arguments on). exec: the trainer is PID 1's only child-free process and gets SIGTERM itself.
here=$(dirname "$0")
case "${1:-}" in
  '' | -* | k8s-manifest) exec node "$here/dist/main.js" "$@" ;;
  *) exec "$@" ;;
esac
