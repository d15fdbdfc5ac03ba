"""FLOPs of one prefill layer, and the time they take.

Matrix multiplies count 2 FLOPs per multiply-add.  For ``new`` prompt tokens
computed after ``cached`` tokens already in the KV cache:

* attention projections (Q, K, V, O): ``2 new (h qd + 2 h kvd + qd h)``;
* attention scores and weighted values (causal):
  ``4 qd (new cached + new (new + 1) / 2)``;
* MoE router: ``2 new h E``; one expert on one token: ``2 x 3 h f`` (SwiGLU:
  gate, up and down projections), ``top_k`` experts per token;
* dense MLP: ``2 new x 3 h f``;

with ``h`` hidden, ``qd`` = Q heads x head dim, ``kvd`` = KV heads x head
dim, ``E`` experts and ``f`` the FFN width.  Time = FLOPs / effective FLOP/s
(the deployment's ``gpu_tflops`` is an achieved, not peak, rate).
"""


def attention_flops(model, new, cached=0):
    h = model.hidden
    qd = model.q_heads * model.head_dim
    kvd = model.kv_heads * model.head_dim
    projections = 2 * new * (h * qd + 2 * h * kvd + qd * h)
    context = new * cached + new * (new + 1) / 2
    router = 2 * new * h * model.experts
    return projections + 4 * qd * context + router


def expert_flops(model, token_experts):
    """FLOPs of ``token_experts`` (token, expert) pairs of a MoE layer."""
    return token_experts * 2 * 3 * model.hidden * model.expert_ffn


def mlp_flops(model, new):
    return new * 2 * 3 * model.hidden * model.ffn


def duration_us(flops, flops_per_s):
    return flops / flops_per_s * 1e6
