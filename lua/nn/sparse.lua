-- nn.Embedding: a lookup table of num_embeddings vectors of size embedding_dim,
-- indexed by 1-based int64 indices (Ember's convention: row i is index i).
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local repr = nn._repr

local Embedding, Module = torch.class('nn.Embedding', 'nn.Module')

local NAMES = { 'num_embeddings', 'embedding_dim', 'padding_idx', 'max_norm', 'norm_type', 'scale_grad_by_freq',
  'sparse', '_weight', '_freeze', 'dtype', 'device' }

-- nn.Embedding(num_embeddings, embedding_dim [, {padding_idx=, max_norm=, norm_type=2,
-- scale_grad_by_freq=false, sparse=false, dtype=, device=}]): weight ~ N(0, 1) with the
-- padding_idx row zeroed; that row gets no gradient. A negative padding_idx counts from
-- the end (-1 is the last row); it is stored normalised to 1..num_embeddings.
-- scale_grad_by_freq and sparse gradients are not supported (true is refused).
function Embedding:__init(...)
  Module.__init(self)
  local a = nn._args('Embedding', NAMES, { norm_type = 2.0, scale_grad_by_freq = false, sparse = false,
    _freeze = false }, ...)
  local n, d = a.num_embeddings, a.embedding_dim
  if math.type(n) ~= 'integer' or n < 0 then
    error('Embedding: num_embeddings must be a non-negative integer, got ' .. tostring(n), 2)
  end
  if math.type(d) ~= 'integer' or d < 0 then
    error('Embedding: embedding_dim must be a non-negative integer, got ' .. tostring(d), 2)
  end
  local pad = a.padding_idx
  if pad ~= nil then
    if math.type(pad) ~= 'integer' or pad == 0 or pad > n or pad < -n then
      error(('Embedding: padding_idx must be an integer in 1..%d or -%d..-1, got %s'):format(n, n, tostring(pad)), 2)
    end
    if pad < 0 then pad = n + 1 + pad end
  end
  if a.max_norm ~= nil and type(a.max_norm) ~= 'number' then
    error('Embedding: max_norm must be a number, got ' .. torch.type(a.max_norm), 2)
  end
  if type(a.norm_type) ~= 'number' then
    error('Embedding: norm_type must be a number, got ' .. torch.type(a.norm_type), 2)
  end
  if a.scale_grad_by_freq then error('Embedding: scale_grad_by_freq=true is not supported', 2) end
  if a.sparse then error('Embedding: sparse gradients (sparse=true) are not supported', 2) end
  self.num_embeddings, self.embedding_dim = n, d
  self.padding_idx, self.max_norm, self.norm_type = pad, a.max_norm, a.norm_type
  self.scale_grad_by_freq, self.sparse = false, false
  if a._weight == nil then
    self.weight = nn.Parameter(torch.empty(n, d, { dtype = a.dtype, device = a.device }), not a._freeze)
    self:reset_parameters()
  else
    local w = a._weight
    if not torch.isTensor(w) or w:dim() ~= 2 or w:size(1) ~= n or w:size(2) ~= d then
      error(('Embedding: _weight must be a (%d, %d) tensor'):format(n, d), 2)
    end
    self.weight = nn.Parameter(w, not a._freeze)
  end
end

function Embedding:reset_parameters()
  nn.init.normal_(self.weight)
  self:_fill_padding_idx_with_zero()
end

function Embedding:_fill_padding_idx_with_zero()
  if self.padding_idx ~= nil then
    torch.no_grad(function() self.weight[self.padding_idx]:fill_(0) end)
  end
end

function Embedding:forward(input)
  if not torch.isTensor(input) then error('Embedding: expected a tensor of indices, got ' .. torch.type(input), 2) end
  return F.embedding(input, self.weight, { padding_idx = self.padding_idx, max_norm = self.max_norm,
    norm_type = self.norm_type })
end

function Embedding:extra_repr()
  local s = ('%d, %d'):format(self.num_embeddings, self.embedding_dim)
  if self.padding_idx ~= nil then s = s .. ', padding_idx=' .. self.padding_idx end
  if self.max_norm ~= nil then s = s .. ', max_norm=' .. repr(self.max_norm) end
  if self.norm_type ~= 2 then s = s .. ', norm_type=' .. repr(self.norm_type) end
  return s
end

-- nn.Embedding.from_pretrained(embeddings [, {freeze=true, padding_idx=, max_norm=, norm_type=2}]):
-- an Embedding whose weight is `embeddings` (a 2-d tensor, used as is: the padding
-- row is not zeroed); freeze=true makes the weight not require grad.
function Embedding.from_pretrained(embeddings, ...)
  if not torch.isTensor(embeddings) or embeddings:dim() ~= 2 then
    error('Embedding.from_pretrained: embeddings must be a 2-d tensor (num_embeddings, embedding_dim)', 2)
  end
  local a = nn._args('Embedding.from_pretrained', { 'freeze', 'padding_idx', 'max_norm', 'norm_type',
    'scale_grad_by_freq', 'sparse' }, { freeze = true, norm_type = 2.0, scale_grad_by_freq = false, sparse = false },
    ...)
  return nn.Embedding(embeddings:size(1), embeddings:size(2), { _weight = embeddings, _freeze = a.freeze and true or false,
    padding_idx = a.padding_idx, max_norm = a.max_norm, norm_type = a.norm_type,
    scale_grad_by_freq = a.scale_grad_by_freq, sparse = a.sparse })
end

local EmbeddingBag = torch.class('nn.EmbeddingBag', 'nn.Module')

local BAG_NAMES = { 'num_embeddings', 'embedding_dim', 'max_norm', 'norm_type', 'scale_grad_by_freq', 'mode',
  'sparse', '_weight', 'include_last_offset', 'padding_idx', '_freeze', 'dtype', 'device' }

-- nn.EmbeddingBag(num_embeddings, embedding_dim [, {max_norm=, norm_type=2, scale_grad_by_freq=false,
-- mode='mean', sparse=false, include_last_offset=false, padding_idx=, _weight=, dtype=, device=}]):
-- the sum, mean or max of the embeddings of each bag (see F.embedding_bag; offsets
-- are 1-based bag starts). forward(input [, offsets [, per_sample_weights]]).
-- weight ~ N(0, 1) with the padding_idx row zeroed; negative padding_idx counts
-- from the end and is stored normalised to 1..num_embeddings.
function EmbeddingBag:__init(...)
  Module.__init(self)
  local a = nn._args('EmbeddingBag', BAG_NAMES, { norm_type = 2.0, scale_grad_by_freq = false, mode = 'mean',
    sparse = false, include_last_offset = false, _freeze = false }, ...)
  local n, d = a.num_embeddings, a.embedding_dim
  if math.type(n) ~= 'integer' or n < 0 then
    error('EmbeddingBag: num_embeddings must be a non-negative integer, got ' .. tostring(n), 2)
  end
  if math.type(d) ~= 'integer' or d < 0 then
    error('EmbeddingBag: embedding_dim must be a non-negative integer, got ' .. tostring(d), 2)
  end
  local pad = a.padding_idx
  if pad ~= nil then
    if math.type(pad) ~= 'integer' or pad == 0 or pad > n or pad < -n then
      error(('EmbeddingBag: padding_idx must be an integer in 1..%d or -%d..-1, got %s'):format(n, n, tostring(pad)), 2)
    end
    if pad < 0 then pad = n + 1 + pad end
  end
  if a.mode ~= 'sum' and a.mode ~= 'mean' and a.mode ~= 'max' then
    error(("EmbeddingBag: mode must be 'sum', 'mean' or 'max', got %s"):format(tostring(a.mode)), 2)
  end
  if a.max_norm ~= nil and type(a.max_norm) ~= 'number' then
    error('EmbeddingBag: max_norm must be a number, got ' .. torch.type(a.max_norm), 2)
  end
  if type(a.norm_type) ~= 'number' then
    error('EmbeddingBag: norm_type must be a number, got ' .. torch.type(a.norm_type), 2)
  end
  if a.sparse then error('EmbeddingBag: sparse gradients (sparse=true) are not supported', 2) end
  self.num_embeddings, self.embedding_dim = n, d
  self.max_norm, self.norm_type, self.scale_grad_by_freq = a.max_norm, a.norm_type, a.scale_grad_by_freq and true or false
  self.mode, self.sparse, self.include_last_offset = a.mode, false, a.include_last_offset and true or false
  self.padding_idx = pad
  if a._weight == nil then
    self.weight = nn.Parameter(torch.empty(n, d, { dtype = a.dtype, device = a.device }), not a._freeze)
    self:reset_parameters()
  else
    local w = a._weight
    if not torch.isTensor(w) or w:dim() ~= 2 or w:size(1) ~= n or w:size(2) ~= d then
      error(('EmbeddingBag: _weight must be a (%d, %d) tensor'):format(n, d), 2)
    end
    self.weight = nn.Parameter(w, not a._freeze)
  end
end

EmbeddingBag.reset_parameters = Embedding.reset_parameters
EmbeddingBag._fill_padding_idx_with_zero = Embedding._fill_padding_idx_with_zero

function EmbeddingBag:forward(input, offsets, per_sample_weights)
  if not torch.isTensor(input) then
    error('EmbeddingBag: expected a tensor of indices, got ' .. torch.type(input), 2)
  end
  return F.embedding_bag(input, self.weight, { offsets = offsets, max_norm = self.max_norm,
    norm_type = self.norm_type, scale_grad_by_freq = self.scale_grad_by_freq, mode = self.mode,
    per_sample_weights = per_sample_weights, include_last_offset = self.include_last_offset,
    padding_idx = self.padding_idx })
end

function EmbeddingBag:extra_repr()
  local s = ('%d, %d'):format(self.num_embeddings, self.embedding_dim)
  if self.max_norm ~= nil then s = s .. ', max_norm=' .. repr(self.max_norm) end
  if self.norm_type ~= 2 then s = s .. ', norm_type=' .. repr(self.norm_type) end
  if self.scale_grad_by_freq then s = s .. ', scale_grad_by_freq=true' end
  s = s .. ", mode='" .. self.mode .. "'"
  if self.include_last_offset then s = s .. ', include_last_offset=true' end
  if self.padding_idx ~= nil then s = s .. ', padding_idx=' .. self.padding_idx end
  return s
end

-- nn.EmbeddingBag.from_pretrained(embeddings [, {freeze=true, max_norm=, norm_type=2,
-- scale_grad_by_freq=false, mode='mean', sparse=false, include_last_offset=false, padding_idx=}]):
-- an EmbeddingBag whose weight is `embeddings` (used as is).
function EmbeddingBag.from_pretrained(embeddings, ...)
  if not torch.isTensor(embeddings) or embeddings:dim() ~= 2 then
    error('EmbeddingBag.from_pretrained: embeddings must be a 2-d tensor (num_embeddings, embedding_dim)', 2)
  end
  local a = nn._args('EmbeddingBag.from_pretrained', { 'freeze', 'max_norm', 'norm_type', 'scale_grad_by_freq',
    'mode', 'sparse', 'include_last_offset', 'padding_idx' }, { freeze = true, norm_type = 2.0,
    scale_grad_by_freq = false, mode = 'mean', sparse = false, include_last_offset = false }, ...)
  return nn.EmbeddingBag(embeddings:size(1), embeddings:size(2), { _weight = embeddings,
    _freeze = a.freeze and true or false, max_norm = a.max_norm, norm_type = a.norm_type,
    scale_grad_by_freq = a.scale_grad_by_freq, mode = a.mode, sparse = a.sparse,
    include_last_offset = a.include_last_offset, padding_idx = a.padding_idx })
end

return { Embedding = Embedding, EmbeddingBag = EmbeddingBag }
