"""Refuse a SavedModel whose serving signature would touch files or run Python, before TensorFlow runs it.

A SavedModel is code: convert and validate execute its graph with the user's rights (docs/security.md).
edgekit cannot sandbox TensorFlow, but it can read saved_model.pb as data (a protobuf; nothing executes)
and list the ops the serving signature reaches, through the graph and every function it calls.
``--trust-source`` skips the check for a model the user trusts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgekit.errors import InputError

# Ops that read or write files, or call back into Python (which can do anything).
FILE_OPS = {
    "ReadFile", "WriteFile", "MatchingFiles", "MatchingFilesDataset", "ImmutableConst",
    "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice", "MergeV2Checkpoints",
    "TFRecordDataset", "TFRecordDatasetV2", "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2",
    "TextLineDataset", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset", "SaveDataset", "SaveDatasetV2",
    "LoadDataset", "ExperimentalSaveDataset", "ExperimentalLoadDataset", "SnapshotDataset", "SnapshotDatasetV2",
    "DatasetToTFRecord", "ExperimentalDatasetToTFRecord", "WholeFileReader", "WholeFileReaderV2",
    "TextLineReader", "TextLineReaderV2", "TFRecordReader", "TFRecordReaderV2", "FixedLengthRecordReader",
    "FixedLengthRecordReaderV2", "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
    "LoadAndRemapMatrix", "GenerateVocabRemapping", "CreateSummaryFileWriter", "CreateSummaryDbWriter",
    "WriteSummary", "WriteRawProtoSummary", "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary",
    "WriteAudioSummary", "WriteGraphSummary", "ImportEvent", "DebugIdentity", "DebugIdentityV2",
    "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary",
}
PROCESS_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
DENIED = FILE_OPS | PROCESS_OPS


def refuse_unsafe_ops(path: Path) -> None:
    """InputError when serving_default reaches a file-system or process op (see ``DENIED``)."""
    hits = unsafe_ops(path)
    if hits:
        shown = ", ".join(f"{op} (in {where})" for op, where in hits[:4])
        raise InputError(f"SavedModel {path}: its serving signature runs file-system or process ops: {shown}. "
                         "TensorFlow would execute them with your rights during convert and validate; pass "
                         "--trust-source only if you trust this model (see docs/security.md)")


def unsafe_ops(path: Path) -> list[tuple[str, str]]:
    """(op, where) for every denied op serving_default can reach; read from saved_model.pb, never executed."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    pb = Path(path) / "saved_model.pb"
    try:
        proto.ParseFromString(pb.read_bytes())
    except (OSError, DecodeError) as e:
        raise InputError(f"SavedModel {path}: saved_model.pb is not readable ({e}); re-export the model") from e
    metas = [m for m in proto.meta_graphs if "serve" in m.meta_info_def.tags] or list(proto.meta_graphs)
    for meta in metas:
        if "serving_default" in meta.signature_def:
            return _reachable_denied(meta, meta.signature_def["serving_default"])
    return []  # no serving signature: edgekit.source refuses the model with its own message


def _reachable_denied(meta: Any, signature: Any) -> list[tuple[str, str]]:
    graph = meta.graph_def
    library = {f.signature.name: f for f in graph.library.function}
    nodes = {n.name: n for n in graph.node}
    hits: list[tuple[str, str]] = []
    todo = [_node_name(t.name) for t in signature.outputs.values()]
    seen_nodes: set[str] = set()
    functions: list[str] = []
    while todo:
        name = todo.pop()
        if name in seen_nodes or name not in nodes:
            continue
        seen_nodes.add(name)
        node = nodes[name]
        _visit(node, "the graph", library, hits, functions)
        todo.extend(_node_name(i) for i in node.input)
    seen_functions: set[str] = set()
    while functions:
        fname = functions.pop()
        if fname in seen_functions or fname not in library:
            continue
        seen_functions.add(fname)
        for node in library[fname].node_def:
            _visit(node, fname, library, hits, functions)
    return hits


def _visit(node: Any, where: str, library: dict[str, Any], hits: list[tuple[str, str]], functions: list[str]) -> None:
    if node.op in DENIED:
        hits.append((node.op, where))
    if node.op == "PrintV2" and "output_stream" in node.attr and node.attr["output_stream"].s.decode(errors="replace").startswith("file://"):
        hits.append(("PrintV2 to a file", where))
    if node.op in library:
        functions.append(node.op)
    functions.extend(_called_functions(node.attr.values()))


def _called_functions(attrs: Iterable[Any]) -> list[str]:
    out = []
    for a in attrs:
        if a.HasField("func"):
            out.append(a.func.name)
        elif a.HasField("list"):
            out.extend(f.name for f in a.list.func)
    return out


def _node_name(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]
