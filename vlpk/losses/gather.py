"""Global negatives: gathering embeddings from every replica.

Under a `tf.distribute` strategy each replica sees only its slice of the
global batch. A contrastive loss computed on that slice alone scores each
example against `B / R` candidates instead of `B`: fewer, easier negatives
and a different objective than the one the paper trains. Gathering the
embeddings with `ReplicaContext.all_gather` restores the global batch; its
gradient sums every replica's contribution and hands each replica the slice
it owns, so gradients flow back to their owners.
"""

import tensorflow as tf


def gather_from_replicas(*tensors):
    """Concatenates each tensor from every replica along axis 0.

    Must be called in replica context (inside `strategy.run`, or in a Keras
    `train_step`/loss under a strategy); with one replica the tensors come back
    unchanged.

    The gathers are chained with control dependencies so that every replica
    issues its collectives in the same order, which collectives require.

    Returns:
        A tuple with one gathered tensor per argument.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tensors
    gathered = []
    for tensor in tensors:
        with tf.control_dependencies(gathered[-1:]):
            gathered.append(context.all_gather(tensor, axis=0))
    return tuple(gathered)
