-- nn.functional attention: scaled_dot_product_attention (PyTorch 2's semantics)
-- and multi_head_attention_forward, the engine of nn.MultiheadAttention. Both are
-- composed from differentiable tensor ops (matmul, softmax, masked_fill, dropout,
-- linear), so autograd gives every gradient. Shapes use PyTorch's names: L target
-- length, S source length, N batch, H heads, E embedding size.
local torch = require 'torch'
local F = require 'nn.functional'

local A = {}

local NEG_INF = -math.huge

local function size_str(t)
  local s = t:size()
  local p = {}
  for i = 1, #s do p[i] = tostring(s[i]) end
  return #p == 0 and 'scalar' or table.concat(p, 'x')
end

local function tuple(...)
  local p = {}
  for i = 1, select('#', ...) do p[i] = tostring((select(i, ...))) end
  return '(' .. table.concat(p, ', ') .. ')'
end

local function check_tensor(what, name, t, float)
  if not torch.isTensor(t) then
    error(('%s: expected %s to be a tensor, got %s'):format(what, name, torch.type(t)), 4)
  end
  if float and not t:is_floating_point() then
    error(('%s: expected %s to be a floating point tensor, got %s'):format(what, name, t.dtype), 4)
  end
end

-- the broadcast of two shapes (lists), or nil when they do not broadcast
local function broadcast(a, b)
  local n = math.max(#a, #b)
  local res = {}
  for i = 1, n do
    local x = a[#a - n + i] or 1
    local y = b[#b - n + i] or 1
    if x ~= y and x ~= 1 and y ~= 1 then return nil end
    res[i] = x == 1 and y or x
  end
  return res
end

local function same_list(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- Softmax over the last dim of the attention scores s (..., L, S). A row whose
-- scores are all -inf (every key masked) gives zeros instead of NaN, as PyTorch's
-- math attention (_safe_softmax); such rows are zeroed before the softmax too, so
-- their gradient is zero rather than NaN.
local function safe_softmax(s, masked)
  if masked then
    local dead = s:eq(NEG_INF):all(-1, true)
    if dead:any():item() then
      local w = torch.softmax(torch.where(dead, 0, s), -1)
      return torch.where(dead, 0, w)
    end
  end
  return torch.softmax(s, -1)
end

-- The attention itself: softmax(q k^T * scale [masked]) v. keep: bool mask, true
-- where a query may attend to a key; bias: float mask added to the scores. Both
-- broadcast to the scores (..., L, S). Returns the output and the weights.
local function attend(q, k, v, keep, bias, dropout_p, scale)
  local s = (q * scale):matmul(k:transpose(-2, -1))       -- (..., L, S)
  if keep ~= nil then s = s:masked_fill(keep:logical_not(), NEG_INF) end
  if bias ~= nil then s = s + bias end
  local w = safe_softmax(s, keep ~= nil or bias ~= nil)
  if dropout_p > 0 then w = F.dropout(w, dropout_p, true) end
  return w:matmul(v), w                                   -- (..., L, Ev), (..., L, S)
end
A._attend = attend

-- ---- scaled_dot_product_attention ----

local SDPA = 'scaled_dot_product_attention'

-- F.scaled_dot_product_attention(query, key, value [, attn_mask, dropout_p=0,
-- is_causal=false, scale]) or with a trailing options table {attn_mask=, ...}.
-- query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the
-- leading dims broadcast. attn_mask broadcasts to (..., L, S): a bool mask marks
-- with true the pairs that take part, a float mask is added to the scores.
-- is_causal masks the pairs above the diagonal (query i sees keys 1..i). scale
-- defaults to 1/sqrt(E). Dropout applies whenever dropout_p > 0 (as PyTorch: pass
-- dropout_p=0 in evaluation).
function A.scaled_dot_product_attention(q, k, v, ...)
  local a = F._args(SDPA, { 'attn_mask', 'dropout_p', 'is_causal', 'scale' },
    { dropout_p = 0, is_causal = false }, ...)
  check_tensor(SDPA, 'query', q, true)
  check_tensor(SDPA, 'key', k, true)
  check_tensor(SDPA, 'value', v, true)
  if k.dtype ~= q.dtype or v.dtype ~= q.dtype then
    error(('%s: expected query, key and value to have the same dtype, got %s, %s and %s'):format(SDPA, q.dtype,
      k.dtype, v.dtype), 2)
  end
  if q:dim() < 2 or k:dim() < 2 or v:dim() < 2 then
    error(('%s: expected query, key and value with at least 2 dims (..., L, E), got %s, %s and %s'):format(SDPA,
      size_str(q), size_str(k), size_str(v)), 2)
  end
  local E, S = q:size(-1), k:size(-2)
  if k:size(-1) ~= E then
    error(('%s: query and key must have the same embedding size (last dim), got query %s and key %s'):format(SDPA,
      size_str(q), size_str(k)), 2)
  end
  if v:size(-2) ~= S then
    error(('%s: key and value must have the same sequence length (dim -2), got key %s and value %s'):format(SDPA,
      size_str(k), size_str(v)), 2)
  end
  local qs, ks, vs = q:size(), k:size(), v:size()
  local lead_q, lead_k, lead_v = {}, {}, {}
  for i = 1, #qs - 2 do lead_q[i] = qs[i] end
  for i = 1, #ks - 2 do lead_k[i] = ks[i] end
  for i = 1, #vs - 2 do lead_v[i] = vs[i] end
  local lead = broadcast(lead_q, lead_k)
  lead = lead and broadcast(lead, lead_v)
  if not lead then
    error(('%s: the batch dims of query, key and value do not broadcast: %s, %s and %s'):format(SDPA, size_str(q),
      size_str(k), size_str(v)), 2)
  end
  if type(a.dropout_p) ~= 'number' or a.dropout_p ~= a.dropout_p or a.dropout_p < 0 or a.dropout_p >= 1 then
    error(('%s: dropout_p must be in [0, 1), got %s'):format(SDPA, tostring(a.dropout_p)), 2)
  end
  if type(a.is_causal) ~= 'boolean' then
    error(('%s: is_causal must be a boolean, got %s'):format(SDPA, type(a.is_causal)), 2)
  end
  if a.scale ~= nil and (type(a.scale) ~= 'number' or a.scale ~= a.scale) then
    error(('%s: scale must be a number, got %s'):format(SDPA, tostring(a.scale)), 2)
  end
  local L = q:size(-2)
  local keep, bias
  local m = a.attn_mask
  if m ~= nil then
    if a.is_causal then
      error(SDPA .. ': is_causal=true cannot be combined with an explicit attn_mask', 2)
    end
    check_tensor(SDPA, 'attn_mask', m)
    if m.dtype ~= 'bool' and m.dtype ~= q.dtype then
      error(('%s: attn_mask must be bool or have the dtype of query (%s), got %s'):format(SDPA, q.dtype, m.dtype), 2)
    end
    local scores = {}
    for i, x in ipairs(lead) do scores[i] = x end
    scores[#scores + 1], scores[#scores + 2] = L, S
    local b = broadcast(m:size(), scores)
    if not (b and same_list(b, scores)) then
      error(('%s: attn_mask of size %s does not broadcast to the attention scores (..., L, S) of size %s'):format(
        SDPA, size_str(m), table.concat(scores, 'x')), 2)
    end
    if m.dtype == 'bool' then keep = m else bias = m end
  elseif a.is_causal then
    keep = torch.ones(L, S, { dtype = 'bool', device = q.device }):tril()
  end
  local scale = a.scale or 1 / math.sqrt(E)
  return (attend(q, k, v, keep, bias, a.dropout_p, scale))
end

-- ---- multi-head attention ----

-- a bool mask (true = masked out) becomes a float one (-inf where masked); a
-- float mask takes the dtype of the query
local function canonical_mask(what, name, m, dtype)
  if m == nil then return nil end
  if not torch.isTensor(m) then
    error(('%s: expected %s to be a tensor, got %s'):format(what, name, torch.type(m)), 4)
  end
  if m.dtype == 'bool' then
    return torch.zeros(m:size(), { dtype = dtype, device = m.device }):masked_fill(m, NEG_INF)
  end
  if not m:is_floating_point() then
    error(('%s: only bool and floating point %s are supported, got %s'):format(what, name, m.dtype), 4)
  end
  return m.dtype == dtype and m or m:to(dtype)
end

local MHA_NAMES = { 'query', 'key', 'value', 'embed_dim_to_check', 'num_heads', 'in_proj_weight', 'in_proj_bias',
  'bias_k', 'bias_v', 'add_zero_attn', 'dropout_p', 'out_proj_weight', 'out_proj_bias', 'training',
  'key_padding_mask', 'need_weights', 'attn_mask', 'use_separate_proj_weight', 'q_proj_weight', 'k_proj_weight',
  'v_proj_weight', 'static_k', 'static_v', 'average_attn_weights', 'is_causal' }
local MHA_DEFAULTS = { add_zero_attn = false, dropout_p = 0, training = true, need_weights = true,
  use_separate_proj_weight = false, average_attn_weights = true, is_causal = false }

-- The multi-head attention of nn.MultiheadAttention. a: the arguments of
-- multi_head_attention_forward by name, plus batch_first (inputs (N, L, E)); what:
-- the name errors start with. Returns the output and the attention weights (nil
-- unless need_weights).
function A._mha(what, a)
  local query, key, value = a.query, a.key, a.value
  check_tensor(what, 'query', query, true)
  check_tensor(what, 'key', key, true)
  check_tensor(what, 'value', value, true)
  local kpm, attn_mask = a.key_padding_mask, a.attn_mask
  local H = a.num_heads
  local qd = query:dim()
  local batched = qd == 3
  if qd ~= 2 and qd ~= 3 then
    error(('%s: expected query to be 2-D (unbatched) or 3-D (batched), got %d-D (%s)'):format(what, qd,
      size_str(query)), 3)
  end
  if key:dim() ~= qd or value:dim() ~= qd then
    error(('%s: for a %s query (%d-D), expected %d-D key and value, got key %s and value %s'):format(what,
      batched and 'batched' or 'unbatched', qd, qd, size_str(key), size_str(value)), 3)
  end
  if kpm ~= nil then
    check_tensor(what, 'key_padding_mask', kpm)
    if kpm:dim() ~= qd - 1 then
      error(('%s: for a %s query, expected key_padding_mask to be %d-D, got %s'):format(what,
        batched and 'batched' or 'unbatched', qd - 1, size_str(kpm)), 3)
    end
  end
  if attn_mask ~= nil then
    check_tensor(what, 'attn_mask', attn_mask)
    if attn_mask:dim() ~= 2 and attn_mask:dim() ~= 3 then
      error(('%s: expected attn_mask to be 2-D (L, S) or 3-D (N*num_heads, L, S), got %d-D (%s)'):format(what,
        attn_mask:dim(), size_str(attn_mask)), 3)
    end
  end
  if not batched then
    query, key, value = query:unsqueeze(2), key:unsqueeze(2), value:unsqueeze(2)
    if kpm ~= nil then kpm = kpm:unsqueeze(1) end
  elseif a.batch_first then
    query, key, value = query:transpose(1, 2), key:transpose(1, 2), value:transpose(1, 2)
  end
  local L, N, E = query:size(1), query:size(2), query:size(3)
  local S = key:size(1)
  if E ~= a.embed_dim_to_check then
    error(('%s: expected query with embed_dim=%d features (last dim), got %d (query %s)'):format(what,
      a.embed_dim_to_check, E, size_str(a.query)), 3)
  end
  local hd = E // H
  if hd * H ~= E then
    error(('%s: embed_dim (%d) must be divisible by num_heads (%d)'):format(what, E, H), 3)
  end
  if key:size(2) ~= N or value:size(2) ~= N then
    error(('%s: query, key and value must have the same batch size, got query %s, key %s and value %s'):format(what,
      size_str(a.query), size_str(a.key), size_str(a.value)), 3)
  end
  if value:size(1) ~= S then
    error(('%s: key and value must have the same sequence length, got key %s and value %s'):format(what,
      size_str(a.key), size_str(a.value)), 3)
  end
  local wq, wk, wv, bq, bk, bv
  local b = a.in_proj_bias
  if b ~= nil then bq, bk, bv = b:narrow(1, 1, E), b:narrow(1, E + 1, E), b:narrow(1, 2 * E + 1, E) end
  if a.use_separate_proj_weight then
    wq, wk, wv = a.q_proj_weight, a.k_proj_weight, a.v_proj_weight
  else
    local w = a.in_proj_weight
    wq, wk, wv = w:narrow(1, 1, E), w:narrow(1, E + 1, E), w:narrow(1, 2 * E + 1, E)
  end
  local kdim, vdim = wk:size(2), wv:size(2)
  if key:size(3) ~= kdim or value:size(3) ~= vdim then
    error(('%s: expected key with %d features and value with %d features (last dim), got key %s and value %s')
      :format(what, kdim, vdim, size_str(a.key), size_str(a.value)), 3)
  end
  if kpm ~= nil and (kpm:size(1) ~= N or kpm:size(2) ~= S) then
    error(('%s: expected key_padding_mask of size %s, got %s'):format(what,
      batched and tuple(N, S) or tuple(S), size_str(a.key_padding_mask)), 3)
  end
  if attn_mask ~= nil then
    local s = attn_mask:size()
    if #s == 2 and (s[1] ~= L or s[2] ~= S) then
      error(('%s: the shape of the 2-D attn_mask is %s, but should be %s'):format(what, size_str(attn_mask),
        tuple(L, S)), 3)
    elseif #s == 3 and (s[1] ~= N * H or s[2] ~= L or s[3] ~= S) then
      error(('%s: the shape of the 3-D attn_mask is %s, but should be %s'):format(what, size_str(attn_mask),
        tuple(N * H, L, S)), 3)
    end
  end
  if a.is_causal and attn_mask == nil then
    error(what .. ': is_causal=true needs attn_mask (is_causal is only a hint that attn_mask is the causal mask)', 3)
  end
  kpm = canonical_mask(what, 'key_padding_mask', kpm, query.dtype)       -- (N, S)
  attn_mask = canonical_mask(what, 'attn_mask', attn_mask, query.dtype)  -- (L, S) | (N*H, L, S)
  if attn_mask ~= nil and attn_mask:dim() == 2 then attn_mask = attn_mask:unsqueeze(1) end

  local q = F.linear(query, wq, bq)                     -- (L, N, E)
  local k = F.linear(key, wk, bk)                       -- (S, N, E)
  local v = F.linear(value, wv, bv)                     -- (S, N, E)

  if a.bias_k ~= nil and a.bias_v ~= nil then
    if a.static_k ~= nil or a.static_v ~= nil then
      error(what .. ': bias_k/bias_v cannot be combined with static_k/static_v', 3)
    end
    k = torch.cat({ k, a.bias_k:expand(1, N, E) }, 1)
    v = torch.cat({ v, a.bias_v:expand(1, N, E) }, 1)
    if attn_mask ~= nil then attn_mask = F.pad(attn_mask, { 0, 1 }) end
    if kpm ~= nil then kpm = F.pad(kpm, { 0, 1 }) end
  elseif a.bias_k ~= nil or a.bias_v ~= nil then
    error(what .. ': bias_k and bias_v must be given together', 3)
  end

  q = q:reshape(L, N * H, hd):transpose(1, 2)           -- (N*H, L, hd)
  local function heads(t, static, name)
    if static == nil then return t:reshape(t:size(1), N * H, hd):transpose(1, 2) end
    check_tensor(what, name, static, true)
    if static:dim() ~= 3 or static:size(1) ~= N * H or static:size(3) ~= hd then
      error(('%s: expected %s of size (%d, S, %d), got %s'):format(what, name, N * H, hd, size_str(static)), 4)
    end
    return static
  end
  k = heads(k, a.static_k, 'static_k')                  -- (N*H, S, hd)
  v = heads(v, a.static_v, 'static_v')                  -- (N*H, S, hd)
  if k:size(2) ~= v:size(2) then
    error(('%s: static_k and static_v give different source lengths (%d and %d)'):format(what, k:size(2),
      v:size(2)), 3)
  end

  if a.add_zero_attn then
    local z = torch.zeros(N * H, 1, hd, { dtype = k.dtype, device = k.device })
    k = torch.cat({ k, z }, 2)
    v = torch.cat({ v, z }, 2)
    if attn_mask ~= nil then attn_mask = F.pad(attn_mask, { 0, 1 }) end
    if kpm ~= nil then kpm = F.pad(kpm, { 0, 1 }) end
  end
  S = k:size(2)
  if attn_mask ~= nil and attn_mask:size(3) ~= S then
    error(('%s: attn_mask covers %d keys, but there are %d (static_k?)'):format(what, attn_mask:size(3), S), 3)
  end

  if kpm ~= nil then
    if kpm:size(2) ~= S then
      error(('%s: key_padding_mask covers %d keys, but there are %d (static_k?)'):format(what, kpm:size(2), S), 3)
    end
    kpm = kpm:view(N, 1, 1, S):expand(N, H, 1, S):reshape(N * H, 1, S)
    attn_mask = attn_mask == nil and kpm or attn_mask + kpm   -- (N*H, L|1, S)
  end

  local p = a.training and a.dropout_p or 0
  local out, w = attend(q, k, v, nil, attn_mask, p, 1 / math.sqrt(hd))   -- (N*H, L, hd), (N*H, L, S)
  out = out:transpose(1, 2):reshape(L, N, E)
  out = F.linear(out, a.out_proj_weight, a.out_proj_bias)               -- (L, N, E)
  if a.need_weights then
    w = w:view(N, H, L, S)
    if a.average_attn_weights then w = w:mean(2) end                   -- (N, L, S) | (N, H, L, S)
  else
    w = nil
  end
  if not batched then
    out = out:squeeze(2)
    if w ~= nil then w = w:squeeze(1) end
  elseif a.batch_first then
    out = out:transpose(1, 2)
  end
  return out, w
end

-- F.multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
-- in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
-- out_proj_weight, out_proj_bias [, {training=true, key_padding_mask=,
-- need_weights=true, attn_mask=, use_separate_proj_weight=false, q_proj_weight=,
-- k_proj_weight=, v_proj_weight=, static_k=, static_v=, average_attn_weights=true,
-- is_causal=false}]): PyTorch's functional multi-head attention on (L, N, E)
-- inputs (or unbatched (L, E)); returns output, weights (nil unless need_weights).
function A.multi_head_attention_forward(...)
  local what = 'multi_head_attention_forward'
  local a = F._args(what, MHA_NAMES, MHA_DEFAULTS, ...)
  if math.type(a.num_heads) ~= 'integer' or a.num_heads < 1 then
    error(('%s: num_heads must be a positive integer, got %s'):format(what, tostring(a.num_heads)), 2)
  end
  if math.type(a.embed_dim_to_check) ~= 'integer' then
    error(('%s: embed_dim_to_check must be an integer, got %s'):format(what, tostring(a.embed_dim_to_check)), 2)
  end
  if a.use_separate_proj_weight then
    for _, n in ipairs { 'q_proj_weight', 'k_proj_weight', 'v_proj_weight' } do check_tensor(what, n, a[n], true) end
  else
    check_tensor(what, 'in_proj_weight', a.in_proj_weight, true)
  end
  check_tensor(what, 'out_proj_weight', a.out_proj_weight, true)
  return A._mha(what, a)
end

return A
