#!/usr/bin/env bash
# tools/bench/run training: seconds per training epoch, C trainer vs a
# faithful PyTorch reference (tools/bench/training/torch_ref.py), MLP
# [64, 32] on synthetic data, one thread. JSON lines on stdout, table in
# docs/bench/training.md.
set -euo pipefail
top=${KT_TOP:?} build=${KT_BUILD:?}
bin=$(find "$build" -name kt-bench-training -type f -perm -u+x | head -1)
[ -n "$bin" ] || { echo "training: kt-bench-training not built in $build" >&2; exit 1; }
py=/usr/bin/python3
if ! $py -c 'import torch' 2>/dev/null; then
    apt-get install -y python3-torch >/dev/null
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
c_epochs=${KT_BENCH_C_EPOCHS:-9} t_epochs=${KT_BENCH_TORCH_EPOCHS:-4}
md="$top/docs/bench/training.md"
level=""
rows_md=""
for rows in 6000 35000; do
  for cols in 6 12; do
    for batch in 32 256; do
      case="rows=${rows},features=${cols},batch=${batch}"
      read -r c level cacc < <(OMP_NUM_THREADS=1 "$bin" "$rows" "$cols" "$batch" "$c_epochs" "$tmp/d.bin")
      read -r t tacc < <(OMP_NUM_THREADS=1 $py "$top/tools/bench/training/torch_ref.py" "$tmp/d.bin" "$rows" "$cols" "$batch" "$t_epochs")
      ratio=$(awk -v c="$c" -v t="$t" 'BEGIN{printf "%.1f", t/c}')
      printf '{"bench":"training","case":"%s","metric":"epoch_seconds","value":%s,"unit":"s","baseline":%s,"ratio":%s}\n' \
          "$case" "$c" "$t" "$ratio"
      rows_md+="| $rows | $cols | $batch | $(awk -v c="$c" 'BEGIN{printf "%.4f", c}') | $(awk -v t="$t" 'BEGIN{printf "%.4f", t}') | ${ratio}x | $cacc / $tacc |"$'\n'
    done
  done
done
torch_v=$($py -c 'import torch; print(torch.__version__)')
{
  echo "## training"
  echo
  echo "Seconds per epoch (fastest epoch of each run: the 2-core machine is shared, so the"
  echo "minimum is the least noisy estimate for both sides) of the C trainer (\`actors/domain/trainer.c\`, kernel level"
  echo "\`$level\`) and of a PyTorch $torch_v reference of the same loop"
  echo "(\`tools/bench/training/torch_ref.py\`, \`torch.set_num_threads(1)\`), on the same"
  echo "synthetic data (LCG features in [0,1), labels from a noisy linear rule, written by the C"
  echo "driver and read by the script). MLP [64, 32] ReLU, dropout 0.2, Adam lr 1e-3 + weight"
  echo "decay 1e-4, class-weighted cross-entropy, grad-norm clip 1.0, 70/15/15 split; one epoch ="
  echo "all training batches + the validation pass. C: best of $c_epochs epochs, PyTorch: of $t_epochs."
  echo
  echo "| rows | features | batch | C s/epoch | torch s/epoch | ratio | val acc (C / torch) |"
  echo "|---:|---:|---:|---:|---:|---:|---|"
  printf '%s' "$rows_md"
} > "$md"
