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
            # `identity` places the tensor on this replica's device: a model
            # input fed straight from a distributed dataset has no device,
            # and MultiWorkerMirroredStrategy's gather then finds no
            # destination ("destinations can not be empty").
            gathered.append(context.all_gather(tf.identity(tensor), axis=0))
    return tuple(_dense_gradient(g) if g.dtype.is_floating else g for g in gathered)


@tf.custom_gradient
def _dense_gradient(x):
    """Identity whose gradient is always a dense tensor.

    Rows picked from a gathered tensor with `tf.gather` (the hard negatives)
    send back `IndexedSlices`, which `all_gather`'s gradient cannot take.
    """

    def grad(upstream):
        return tf.convert_to_tensor(upstream)

    return tf.identity(x), grad
