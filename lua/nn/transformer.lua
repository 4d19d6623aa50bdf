-- Attention and transformer layers: MultiheadAttention, TransformerEncoderLayer,
-- TransformerEncoder, TransformerDecoderLayer, TransformerDecoder, Transformer,
-- with PyTorch's arguments, defaults, initialisation and parameter names, so a
-- PyTorch state_dict loads (ModuleList positions are 1-based: layers.1.…).
-- Sequences are (L, N, E) by default, (N, L, E) with batch_first=true, (L, E)
-- unbatched. Masks follow PyTorch: a bool attn_mask or key_padding_mask marks with
-- true what may NOT be attended; a float one is added to the attention scores.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'
require 'nn.linear'

local args = nn._args
local Module = nn.Module

local function size_str(t)
  local s = t:size()
  local p = {}
  for i = 1, #s do p[i] = tostring(s[i]) end
  return #p == 0 and 'scalar' or table.concat(p, 'x')
end

local function factory(a)
  return { dtype = a.dtype, device = a.device }
end

local function check_int(what, name, v, min)
  if math.type(v) ~= 'integer' or v < min then
    error(('%s: %s must be an integer >= %d, got %s'):format(what, name, min, tostring(v)), 4)
  end
end

local function check_bool(what, name, v)
  if type(v) ~= 'boolean' then
    error(('%s: %s must be a boolean, got %s'):format(what, name, type(v)), 4)
  end
end

local function check_p(what, p)
  if type(p) ~= 'number' or p ~= p or p < 0 or p > 1 then
    error(('%s: dropout probability has to be between 0 and 1, but got %s'):format(what, tostring(p)), 4)
  end
end

-- out_proj of MultiheadAttention: an nn.Linear under PyTorch's class name
local NDQLinear = torch.class('nn.NonDynamicallyQuantizableLinear', 'nn.Linear')
function NDQLinear:__init(...) nn.Linear.__init(self, ...) end

-- ---- MultiheadAttention ----

local MHA = torch.class('nn.MultiheadAttention', 'nn.Module')

-- nn.MultiheadAttention(embed_dim, num_heads [, {dropout=0, bias=true,
-- add_bias_kv=false, add_zero_attn=false, kdim=embed_dim, vdim=embed_dim,
-- batch_first=false, dtype=, device=}])
function MHA:__init(...)
  Module.__init(self)
  local W = 'MultiheadAttention'
  local a = args(W, { 'embed_dim', 'num_heads', 'dropout', 'bias', 'add_bias_kv', 'add_zero_attn', 'kdim', 'vdim',
    'batch_first', 'device', 'dtype' }, { dropout = 0.0, bias = true, add_bias_kv = false, add_zero_attn = false,
    batch_first = false }, ...)
  check_int(W, 'embed_dim', a.embed_dim, 1)
  check_int(W, 'num_heads', a.num_heads, 1)
  check_p(W, a.dropout)
  for _, n in ipairs { 'bias', 'add_bias_kv', 'add_zero_attn', 'batch_first' } do check_bool(W, n, a[n]) end
  local E = a.embed_dim
  local kdim, vdim = a.kdim or E, a.vdim or E
  check_int(W, 'kdim', kdim, 1)
  check_int(W, 'vdim', vdim, 1)
  if E % a.num_heads ~= 0 then
    error(('%s: embed_dim (%d) must be divisible by num_heads (%d)'):format(W, E, a.num_heads), 2)
  end
  self.embed_dim, self.kdim, self.vdim = E, kdim, vdim
  self._qkv_same_embed_dim = kdim == E and vdim == E
  self.num_heads, self.dropout, self.batch_first = a.num_heads, a.dropout, a.batch_first
  self.head_dim = E // a.num_heads
  local fa = factory(a)
  if self._qkv_same_embed_dim then
    self.in_proj_weight = nn.Parameter(torch.empty(3 * E, E, fa))
  else
    self.q_proj_weight = nn.Parameter(torch.empty(E, E, fa))
    self.k_proj_weight = nn.Parameter(torch.empty(E, kdim, fa))
    self.v_proj_weight = nn.Parameter(torch.empty(E, vdim, fa))
  end
  if a.bias then self.in_proj_bias = nn.Parameter(torch.empty(3 * E, fa)) end
  self.out_proj = NDQLinear(E, E, { bias = a.bias, dtype = a.dtype, device = a.device })
  if a.add_bias_kv then
    self.bias_k = nn.Parameter(torch.empty(1, 1, E, fa))
    self.bias_v = nn.Parameter(torch.empty(1, 1, E, fa))
  end
  self.add_zero_attn = a.add_zero_attn
  self:_reset_parameters()
end

-- xavier_uniform_ on the input projections, zeros on the biases, xavier_normal_ on
-- bias_k/bias_v; out_proj.weight keeps nn.Linear's initialisation
function MHA:_reset_parameters()
  if self._qkv_same_embed_dim then
    nn.init.xavier_uniform_(self.in_proj_weight)
  else
    nn.init.xavier_uniform_(self.q_proj_weight)
    nn.init.xavier_uniform_(self.k_proj_weight)
    nn.init.xavier_uniform_(self.v_proj_weight)
  end
  if self.in_proj_bias ~= nil then
    nn.init.zeros_(self.in_proj_bias)
    nn.init.zeros_(self.out_proj.bias)
  end
  if self.bias_k ~= nil then nn.init.xavier_normal_(self.bias_k) end
  if self.bias_v ~= nil then nn.init.xavier_normal_(self.bias_v) end
end

-- forward(query, key, value [, {key_padding_mask=, need_weights=true, attn_mask=,
-- average_attn_weights=true, is_causal=false}]) -> output, weights
-- query (L, N, E), key (S, N, kdim), value (S, N, vdim) ((N, L, E) ... with
-- batch_first; (L, E) ... unbatched); key_padding_mask (N, S) or (S); attn_mask
-- (L, S) or (N*num_heads, L, S). output like query; weights (N, L, S) averaged
-- over the heads or (N, num_heads, L, S), nil when need_weights=false.
function MHA:forward(query, key, value, ...)
  local W = 'MultiheadAttention'
  local a = args(W, { 'key_padding_mask', 'need_weights', 'attn_mask', 'average_attn_weights', 'is_causal' },
    { need_weights = true, average_attn_weights = true, is_causal = false }, ...)
  return F._mha(W, {
    query = query, key = key, value = value, embed_dim_to_check = self.embed_dim, num_heads = self.num_heads,
    in_proj_weight = self.in_proj_weight, in_proj_bias = self.in_proj_bias, bias_k = self.bias_k,
    bias_v = self.bias_v, add_zero_attn = self.add_zero_attn, dropout_p = self.dropout,
    out_proj_weight = self.out_proj.weight, out_proj_bias = self.out_proj.bias, training = self.training,
    key_padding_mask = a.key_padding_mask, need_weights = a.need_weights, attn_mask = a.attn_mask,
    use_separate_proj_weight = not self._qkv_same_embed_dim, q_proj_weight = self.q_proj_weight,
    k_proj_weight = self.k_proj_weight, v_proj_weight = self.v_proj_weight,
    average_attn_weights = a.average_attn_weights, is_causal = a.is_causal, batch_first = self.batch_first,
  })
end

-- ---- shared pieces of the transformer layers ----

local ACTIVATIONS = { relu = F.relu, gelu = F.gelu }

local function activation_of(what, act)
  if type(act) == 'string' then
    local f = ACTIVATIONS[act]
    if not f then error(('%s: activation should be relu/gelu, not %s'):format(what, act), 4) end
    return f
  end
  if type(act) == 'function' or nn.is_module(act) then return act end
  error(('%s: activation should be "relu", "gelu", a function or a module, got %s'):format(what, torch.type(act)), 4)
end

local LAYER_NAMES = { 'd_model', 'nhead', 'dim_feedforward', 'dropout', 'activation', 'layer_norm_eps',
  'batch_first', 'norm_first', 'bias', 'device', 'dtype' }
local LAYER_DEFAULTS = { dim_feedforward = 2048, dropout = 0.1, activation = 'relu', layer_norm_eps = 1e-5,
  batch_first = false, norm_first = false, bias = true }

local function check_layer_args(W, a)
  check_int(W, 'd_model', a.d_model, 1)
  check_int(W, 'nhead', a.nhead, 1)
  check_int(W, 'dim_feedforward', a.dim_feedforward, 1)
  check_p(W, a.dropout)
  if type(a.layer_norm_eps) ~= 'number' then
    error(('%s: layer_norm_eps must be a number, got %s'):format(W, type(a.layer_norm_eps)), 3)
  end
  for _, n in ipairs { 'batch_first', 'norm_first', 'bias' } do check_bool(W, n, a[n]) end
  if a.d_model % a.nhead ~= 0 then
    error(('%s: d_model (%d) must be divisible by nhead (%d)'):format(W, a.d_model, a.nhead), 3)
  end
end

local function mha_of(a)
  return nn.MultiheadAttention(a.d_model, a.nhead, { dropout = a.dropout, bias = a.bias,
    batch_first = a.batch_first, dtype = a.dtype, device = a.device })
end

local function layer_norm_of(a)
  return nn.LayerNorm(a.d_model, { eps = a.layer_norm_eps, bias = a.bias, dtype = a.dtype, device = a.device })
end

-- a (S, N, d_model), (N, S, d_model) or (S, d_model) sequence
local function check_seq(W, name, x, d_model, batch_first)
  if not torch.isTensor(x) then
    error(('%s: expected %s to be a tensor, got %s'):format(W, name, torch.type(x)), 4)
  end
  if (x:dim() ~= 2 and x:dim() ~= 3) or x:size(-1) ~= d_model then
    error(('%s: expected %s of size %s (batched) or (S, %d) (unbatched), got %s'):format(W, name,
      batch_first and ('(N, S, %d)'):format(d_model) or ('(S, N, %d)'):format(d_model), d_model, size_str(x)), 4)
  end
end

-- linear2(dropout(activation(linear1(x)))), then dropout_last
local function ff_block(self, x, dropout_last)
  return dropout_last(self.linear2(self.dropout(self.activation(self.linear1(x)))))
end

-- ---- TransformerEncoderLayer ----

local EncoderLayer = torch.class('nn.TransformerEncoderLayer', 'nn.Module')

-- nn.TransformerEncoderLayer(d_model, nhead [, {dim_feedforward=2048, dropout=0.1,
-- activation='relu', layer_norm_eps=1e-5, batch_first=false, norm_first=false,
-- bias=true}]); activation: 'relu', 'gelu', a function or a module
function EncoderLayer:__init(...)
  Module.__init(self)
  local W = 'TransformerEncoderLayer'
  local a = args(W, LAYER_NAMES, LAYER_DEFAULTS, ...)
  check_layer_args(W, a)
  local fa = factory(a)
  self.self_attn = mha_of(a)
  self.linear1 = nn.Linear(a.d_model, a.dim_feedforward, { bias = a.bias, dtype = fa.dtype, device = fa.device })
  self.dropout = nn.Dropout(a.dropout)
  self.linear2 = nn.Linear(a.dim_feedforward, a.d_model, { bias = a.bias, dtype = fa.dtype, device = fa.device })
  self.norm_first = a.norm_first
  self.norm1 = layer_norm_of(a)
  self.norm2 = layer_norm_of(a)
  self.dropout1 = nn.Dropout(a.dropout)
  self.dropout2 = nn.Dropout(a.dropout)
  self.d_model, self.batch_first = a.d_model, a.batch_first
  self.activation = activation_of(W, a.activation)
end

-- forward(src [, {src_mask=, src_key_padding_mask=, is_causal=false}])
function EncoderLayer:forward(src, ...)
  local W = 'TransformerEncoderLayer'
  local a = args(W, { 'src_mask', 'src_key_padding_mask', 'is_causal' }, { is_causal = false }, ...)
  check_seq(W, 'src', src, self.d_model, self.batch_first)
  local function sa(x)
    local y = self.self_attn(x, x, x, { attn_mask = a.src_mask, key_padding_mask = a.src_key_padding_mask,
      need_weights = false, is_causal = a.is_causal })
    return self.dropout1(y)
  end
  local x = src
  if self.norm_first then
    x = x + sa(self.norm1(x))
    x = x + ff_block(self, self.norm2(x), self.dropout2)
  else
    x = self.norm1(x + sa(x))
    x = self.norm2(x + ff_block(self, x, self.dropout2))
  end
  return x
end

-- ---- TransformerDecoderLayer ----

local DecoderLayer = torch.class('nn.TransformerDecoderLayer', 'nn.Module')

-- nn.TransformerDecoderLayer(d_model, nhead [, options as TransformerEncoderLayer])
function DecoderLayer:__init(...)
  Module.__init(self)
  local W = 'TransformerDecoderLayer'
  local a = args(W, LAYER_NAMES, LAYER_DEFAULTS, ...)
  check_layer_args(W, a)
  local fa = factory(a)
  self.self_attn = mha_of(a)
  self.multihead_attn = mha_of(a)
  self.linear1 = nn.Linear(a.d_model, a.dim_feedforward, { bias = a.bias, dtype = fa.dtype, device = fa.device })
  self.dropout = nn.Dropout(a.dropout)
  self.linear2 = nn.Linear(a.dim_feedforward, a.d_model, { bias = a.bias, dtype = fa.dtype, device = fa.device })
  self.norm_first = a.norm_first
  self.norm1 = layer_norm_of(a)
  self.norm2 = layer_norm_of(a)
  self.norm3 = layer_norm_of(a)
  self.dropout1 = nn.Dropout(a.dropout)
  self.dropout2 = nn.Dropout(a.dropout)
  self.dropout3 = nn.Dropout(a.dropout)
  self.d_model, self.batch_first = a.d_model, a.batch_first
  self.activation = activation_of(W, a.activation)
end

local DEC_NAMES = { 'tgt_mask', 'memory_mask', 'tgt_key_padding_mask', 'memory_key_padding_mask', 'tgt_is_causal',
  'memory_is_causal' }

-- forward(tgt, memory [, {tgt_mask=, memory_mask=, tgt_key_padding_mask=,
-- memory_key_padding_mask=, tgt_is_causal=false, memory_is_causal=false}])
function DecoderLayer:forward(tgt, memory, ...)
  local W = 'TransformerDecoderLayer'
  local a = args(W, DEC_NAMES, { tgt_is_causal = false, memory_is_causal = false }, ...)
  check_seq(W, 'tgt', tgt, self.d_model, self.batch_first)
  check_seq(W, 'memory', memory, self.d_model, self.batch_first)
  if memory:dim() ~= tgt:dim() then
    error(('%s: tgt and memory must both be batched (3-D) or both unbatched (2-D), got tgt %s and memory %s'):format(
      W, size_str(tgt), size_str(memory)), 2)
  end
  local function sa(x)
    local y = self.self_attn(x, x, x, { attn_mask = a.tgt_mask, key_padding_mask = a.tgt_key_padding_mask,
      need_weights = false, is_causal = a.tgt_is_causal })
    return self.dropout1(y)
  end
  local function ca(x)
    local y = self.multihead_attn(x, memory, memory, { attn_mask = a.memory_mask,
      key_padding_mask = a.memory_key_padding_mask, need_weights = false, is_causal = a.memory_is_causal })
    return self.dropout2(y)
  end
  local x = tgt
  if self.norm_first then
    x = x + sa(self.norm1(x))
    x = x + ca(self.norm2(x))
    x = x + ff_block(self, self.norm3(x), self.dropout3)
  else
    x = self.norm1(x + sa(x))
    x = self.norm2(x + ca(x))
    x = self.norm3(x + ff_block(self, x, self.dropout3))
  end
  return x
end

-- ---- TransformerEncoder / TransformerDecoder ----

-- num_layers deep copies of layer in a ModuleList
local function clones(W, layer, n, class)
  if not torch.isTypeOf(layer, class) and not nn.is_module(layer) then
    error(('%s: expected a layer module, got %s'):format(W, torch.type(layer)), 4)
  end
  check_int(W, 'num_layers', n, 0)
  local list = {}
  for i = 1, n do list[i] = layer:clone() end
  return nn.ModuleList(list)
end

local function check_norm(W, norm)
  if norm ~= nil and not nn.is_module(norm) then
    error(('%s: norm must be a module or nil, got %s'):format(W, torch.type(norm)), 4)
  end
end

local Encoder = torch.class('nn.TransformerEncoder', 'nn.Module')

-- nn.TransformerEncoder(encoder_layer, num_layers [, {norm=, enable_nested_tensor=true,
-- mask_check=true}]): num_layers deep copies of encoder_layer (children layers.1 ..
-- layers.n), then norm when given. enable_nested_tensor and mask_check are kept
-- for compatibility; the computation is always the plain (padded) one.
function Encoder:__init(...)
  Module.__init(self)
  local W = 'TransformerEncoder'
  local a = args(W, { 'encoder_layer', 'num_layers', 'norm', 'enable_nested_tensor', 'mask_check' },
    { enable_nested_tensor = true, mask_check = true }, ...)
  self.layers = clones(W, a.encoder_layer, a.num_layers, nn.TransformerEncoderLayer)
  self.num_layers = a.num_layers
  check_norm(W, a.norm)
  self.norm = a.norm
  self.enable_nested_tensor, self.mask_check = a.enable_nested_tensor, a.mask_check
end

-- forward(src [, {mask=, src_key_padding_mask=, is_causal=}])
function Encoder:forward(src, ...)
  local a = args('TransformerEncoder', { 'mask', 'src_key_padding_mask', 'is_causal' }, {}, ...)
  local x = src
  for i = 1, #self.layers do
    x = self.layers[i](x, { src_mask = a.mask, src_key_padding_mask = a.src_key_padding_mask,
      is_causal = a.is_causal or false })
  end
  if self.norm ~= nil then x = self.norm(x) end
  return x
end

local Decoder = torch.class('nn.TransformerDecoder', 'nn.Module')

-- nn.TransformerDecoder(decoder_layer, num_layers [, {norm=}])
function Decoder:__init(...)
  Module.__init(self)
  local W = 'TransformerDecoder'
  local a = args(W, { 'decoder_layer', 'num_layers', 'norm' }, {}, ...)
  self.layers = clones(W, a.decoder_layer, a.num_layers, nn.TransformerDecoderLayer)
  self.num_layers = a.num_layers
  check_norm(W, a.norm)
  self.norm = a.norm
end

-- forward(tgt, memory [, options as TransformerDecoderLayer:forward])
function Decoder:forward(tgt, memory, ...)
  local a = args('TransformerDecoder', DEC_NAMES, {}, ...)
  local x = tgt
  for i = 1, #self.layers do
    x = self.layers[i](x, memory, { tgt_mask = a.tgt_mask, memory_mask = a.memory_mask,
      tgt_key_padding_mask = a.tgt_key_padding_mask, memory_key_padding_mask = a.memory_key_padding_mask,
      tgt_is_causal = a.tgt_is_causal or false, memory_is_causal = a.memory_is_causal or false })
  end
  if self.norm ~= nil then x = self.norm(x) end
  return x
end

-- ---- Transformer ----

local Transformer = torch.class('nn.Transformer', 'nn.Module')

-- nn.Transformer([d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
-- dim_feedforward=2048, dropout=0.1, activation='relu', custom_encoder=,
-- custom_decoder=, layer_norm_eps=1e-5, batch_first=false, norm_first=false,
-- bias=true]) (or an options table): an encoder and a decoder, each ending with a
-- LayerNorm; every parameter with more than one dim is xavier_uniform_ initialised
function Transformer:__init(...)
  Module.__init(self)
  local W = 'Transformer'
  local a = args(W, { 'd_model', 'nhead', 'num_encoder_layers', 'num_decoder_layers', 'dim_feedforward', 'dropout',
    'activation', 'custom_encoder', 'custom_decoder', 'layer_norm_eps', 'batch_first', 'norm_first', 'bias',
    'device', 'dtype' }, { d_model = 512, nhead = 8, num_encoder_layers = 6, num_decoder_layers = 6,
    dim_feedforward = 2048, dropout = 0.1, activation = 'relu', layer_norm_eps = 1e-5, batch_first = false,
    norm_first = false, bias = true }, ...)
  check_int(W, 'num_encoder_layers', a.num_encoder_layers, 0)
  check_int(W, 'num_decoder_layers', a.num_decoder_layers, 0)
  local lo = { dim_feedforward = a.dim_feedforward, dropout = a.dropout, activation = a.activation,
    layer_norm_eps = a.layer_norm_eps, batch_first = a.batch_first, norm_first = a.norm_first, bias = a.bias,
    dtype = a.dtype, device = a.device }
  if a.custom_encoder ~= nil then
    if not nn.is_module(a.custom_encoder) then
      error(('%s: custom_encoder must be a module, got %s'):format(W, torch.type(a.custom_encoder)), 2)
    end
    self.encoder = a.custom_encoder
  else
    self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(a.d_model, a.nhead, lo), a.num_encoder_layers,
      { norm = layer_norm_of(a) })
  end
  if a.custom_decoder ~= nil then
    if not nn.is_module(a.custom_decoder) then
      error(('%s: custom_decoder must be a module, got %s'):format(W, torch.type(a.custom_decoder)), 2)
    end
    self.decoder = a.custom_decoder
  else
    self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(a.d_model, a.nhead, lo), a.num_decoder_layers,
      { norm = layer_norm_of(a) })
  end
  self:_reset_parameters()
  self.d_model, self.nhead, self.batch_first = a.d_model, a.nhead, a.batch_first
end

function Transformer:_reset_parameters()
  for _, p in ipairs(self:parameters()) do
    if p:dim() > 1 then nn.init.xavier_uniform_(p) end
  end
end

-- forward(src, tgt [, {src_mask=, tgt_mask=, memory_mask=, src_key_padding_mask=,
-- tgt_key_padding_mask=, memory_key_padding_mask=, src_is_causal=, tgt_is_causal=,
-- memory_is_causal=false}]): src (S, N, E), tgt (T, N, E) -> (T, N, E)
function Transformer:forward(src, tgt, ...)
  local W = 'Transformer'
  local a = args(W, { 'src_mask', 'tgt_mask', 'memory_mask', 'src_key_padding_mask', 'tgt_key_padding_mask',
    'memory_key_padding_mask', 'src_is_causal', 'tgt_is_causal', 'memory_is_causal' }, { memory_is_causal = false },
    ...)
  for _, e in ipairs { { 'src', src }, { 'tgt', tgt } } do
    if not torch.isTensor(e[2]) then
      error(('%s: expected %s to be a tensor, got %s'):format(W, e[1], torch.type(e[2])), 2)
    end
  end
  if src:dim() ~= tgt:dim() or (src:dim() ~= 2 and src:dim() ~= 3) then
    error(('%s: expected src and tgt both 3-D (batched) or both 2-D (unbatched), got src %s and tgt %s'):format(W,
      size_str(src), size_str(tgt)), 2)
  end
  if src:dim() == 3 then
    local bd = self.batch_first and 1 or 2
    if src:size(bd) ~= tgt:size(bd) then
      error(('%s: the batch number of src and tgt must be equal, got src %s and tgt %s'):format(W, size_str(src),
        size_str(tgt)), 2)
    end
  end
  if src:size(-1) ~= self.d_model or tgt:size(-1) ~= self.d_model then
    error(('%s: the feature number of src and tgt must be equal to d_model (%d), got src %s and tgt %s'):format(W,
      self.d_model, size_str(src), size_str(tgt)), 2)
  end
  local memory = self.encoder(src, { mask = a.src_mask, src_key_padding_mask = a.src_key_padding_mask,
    is_causal = a.src_is_causal })
  return self.decoder(tgt, memory, { tgt_mask = a.tgt_mask, memory_mask = a.memory_mask,
    tgt_key_padding_mask = a.tgt_key_padding_mask, memory_key_padding_mask = a.memory_key_padding_mask,
    tgt_is_causal = a.tgt_is_causal, memory_is_causal = a.memory_is_causal })
end

-- nn.Transformer.generate_square_subsequent_mask(sz [, {dtype=, device=}]): the
-- (sz, sz) float causal mask, -inf above the diagonal and 0 elsewhere (also
-- callable as a method: model:generate_square_subsequent_mask(sz))
function Transformer.generate_square_subsequent_mask(sz, opts, more)
  if nn.is_module(sz) then sz, opts = opts, more end
  check_int('generate_square_subsequent_mask', 'sz', sz, 0)
  opts = type(opts) == 'table' and opts or {}
  local full = torch.full({ sz, sz }, -math.huge, { dtype = opts.dtype, device = opts.device })
  return torch.triu(full, 1)
end

return { MultiheadAttention = MHA, TransformerEncoderLayer = EncoderLayer, TransformerEncoder = Encoder,
  TransformerDecoderLayer = DecoderLayer, TransformerDecoder = Decoder, Transformer = Transformer,
  NonDynamicallyQuantizableLinear = NDQLinear }
