"""The Open Inference Protocol over gRPC: a second transport into the same data plane.

:mod:`~sentiment.rpc.server` runs one ``grpc.aio`` server per worker;
:mod:`~sentiment.rpc.servicer` answers ``inference.GRPCInferenceService`` through
the worker's admission and V2 handler; :mod:`~sentiment.rpc.tensors` reads and
builds its messages. ``proto/`` holds the protocol's own ``.proto`` (KServe's
open-inference-protocol, Apache-2.0, its LICENSE beside it) and the stubs
``make proto`` generates from it (committed, not edited).
"""
