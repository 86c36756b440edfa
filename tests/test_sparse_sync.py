"""Row-sparse gradients averaged over two real ranks (gloo on 127.0.0.1) equal the mean gradient."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

# Each rank: its own initial weights (rank 0's must win), its own batch, and a
# second table that rank 1's batch never touches (its gradient is None there).
WORKER = """
import json, sys
import torch, torch.distributed as dist
from torch import nn
from embrec.training.sparse_sync import RowSparseSync

rank, port = int(sys.argv[1]), sys.argv[2]
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
torch.manual_seed(rank)
table, other = nn.Embedding(6, 2, sparse=True), nn.Embedding(4, 2, sparse=True)
head = nn.Linear(2, 1)
module = nn.ModuleDict({"table": table, "other": other, "head": head})
sync = RowSparseSync(module, 2)
sync.broadcast()
for weight in head.parameters():  # as DDP does for the dense weights it keeps
    dist.broadcast(weight.data, src=0)
batches = [[0, 0, 3], [3, 5]]
loss = head(table(torch.tensor(batches[rank]))).pow(2).sum()
if rank == 0:
    loss = loss + other(torch.tensor([2, 2])).sum()
loss.backward()
sync()
print(json.dumps({
    "names": sync.ignored_names(),
    "table": table.weight.tolist(), "other": other.weight.tolist(),
    "table_grad": table.weight.grad.to_dense().tolist(),
    "other_grad": other.weight.grad.to_dense().tolist(),
    "lookups": int(table.weight.grad._nnz()),
}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_ranks(tmp_path: Path) -> list[dict]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    port = str(free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TORCHELASTIC", "MASTER"))}
    ranks = [subprocess.Popen([sys.executable, str(script), str(rank), port], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rank in range(2)]
    results = []
    for rank in ranks:
        out, err = rank.communicate(timeout=120)
        assert rank.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def expected_gradients() -> tuple[list, list]:
    """The mean over both ranks' losses, taken in one process from rank 0's weights."""
    torch.manual_seed(0)
    table, other, head = nn.Embedding(6, 2), nn.Embedding(4, 2), nn.Linear(2, 1)
    rank0 = head(table(torch.tensor([0, 0, 3]))).pow(2).sum() + other(torch.tensor([2, 2])).sum()
    rank1 = head(table(torch.tensor([3, 5]))).pow(2).sum()
    ((rank0 + rank1) / 2).backward()
    return table.weight.grad.tolist(), other.weight.grad.tolist()


def test_two_ranks_get_rank_zeros_tables_and_the_mean_row_sparse_gradient(tmp_path):
    rank0, rank1 = run_ranks(tmp_path)
    assert rank0["names"] == ["table.weight", "other.weight"]
    assert rank0["table"] == rank1["table"] and rank0["other"] == rank1["other"]
    torch.manual_seed(0)
    assert rank0["table"] == nn.Embedding(6, 2).weight.tolist()  # rank 0's draw, not rank 1's
    table_grad, other_grad = expected_gradients()
    for result in (rank0, rank1):
        assert result["lookups"] == 5  # 3 lookups from rank 0, 2 from rank 1, uncoalesced
        torch.testing.assert_close(torch.tensor(result["table_grad"]), torch.tensor(table_grad))
        torch.testing.assert_close(torch.tensor(result["other_grad"]), torch.tensor(other_grad))
    assert any(row != [0.0, 0.0] for row in rank1["other_grad"])  # rank 1 received rank 0's rows
