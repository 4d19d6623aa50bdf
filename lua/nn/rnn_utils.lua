-- nn.utils.rnn: variable-length sequences for the recurrent layers. A
-- PackedSequence stores a batch time step by time step, each step holding only
-- the sequences still running (sorted by decreasing length), so an RNN spends no
-- work on padding. Every conversion here is one gather (index_select) from the
-- source rows, built from a Lua index list, so gradients flow both ways through
-- the ordinary autograd of index_select / cat / narrow.
--
-- Indices are 1-based: sorted_indices[j] is the original batch position of the
-- j-th longest sequence, unsorted_indices is its inverse.
local torch = require 'torch'
local nn = require 'nn'

local rnn = {}
nn.utils = nn.utils or {}
nn.utils.rnn = rnn
package.loaded['nn.utils.rnn'] = rnn -- before torch.class: files PackedSequence into rnn

-- ---- helpers ----

local function shape_str(t)
  local s = t:size()
  local p = {}
  for i = 1, #s do p[i] = tostring(s[i]) end
  return #p == 0 and 'scalar' or table.concat(p, 'x')
end

local function list_str(l)
  local p = {}
  for i = 1, math.min(#l, 8) do p[i] = tostring(l[i]) end
  if #l > 8 then p[#p + 1] = '...' end
  return '{' .. table.concat(p, ', ') .. '}'
end

-- the sizes of t after its first `skip` dims, as a plain list
local function trailing(t, skip)
  local s, r = t:size(), {}
  for i = skip + 1, #s do r[#r + 1] = s[i] end
  return r
end

local function int64(list, device)
  local t = #list > 0 and torch.tensor(list, { dtype = 'int64' }) or torch.empty({ 0 }, { dtype = 'int64' })
  if device and device ~= 'cpu' then t = t:to(device) end
  return t
end

-- rows of src (N, *) picked by a 1-based Lua index list, reshaped to `shape`
local function gather(src, idx, shape)
  local out = src:index_select(1, int64(idx, src.device))
  return out:view(shape)
end

-- src with one extra last row filled with `value` (the row padded positions read)
local function with_pad_row(src, value)
  local rshape = trailing(src, 1)
  table.insert(rshape, 1, 1)
  local pad = torch.full(rshape, value, { dtype = src.dtype, device = src.device })
  return torch.cat({ src, pad }, 1)
end

local function concat_shape(a, b)
  local r = {}
  for _, v in ipairs(a) do r[#r + 1] = v end
  for _, v in ipairs(b) do r[#r + 1] = v end
  return r
end

-- lengths as a Lua list of integers (from a tensor or a list), checked against
-- the batch size and the longest allowed length
local function read_lengths(fn, lengths, batch, max_len, min_len)
  min_len = min_len or 1
  local l
  if torch.isTensor(lengths) then
    if lengths:dim() ~= 1 then
      error(('%s: lengths must be a 1-D tensor, got size %s'):format(fn, shape_str(lengths)), 3)
    end
    l = lengths:detach():cpu():tolist()
  elseif type(lengths) == 'table' and getmetatable(lengths) == nil then
    l = {}
    for i, v in ipairs(lengths) do l[i] = v end
  else
    error(('%s: lengths must be a 1-D tensor or a list of integers, got %s'):format(fn, torch.type(lengths)), 3)
  end
  if #l ~= batch then
    error(('%s: expected one length per batch element (batch size %d), got %d lengths %s')
      :format(fn, batch, #l, list_str(l)), 3)
  end
  for i, v in ipairs(l) do
    local n = type(v) == 'number' and math.tointeger(v)
    if not n then
      error(('%s: lengths must be integers, got %s at position %d'):format(fn, tostring(v), i), 3)
    end
    if n < min_len then
      error(('%s: every length must be %s, got %d for sequence %d (lengths %s)')
        :format(fn, min_len == 1 and 'greater than 0' or 'at least 0', n, i, list_str(l)), 3)
    end
    if n > max_len then
      error(('%s: length %d of sequence %d exceeds the padded sequence length %d (lengths %s)')
        :format(fn, n, i, max_len, list_str(l)), 3)
    end
    l[i] = n
  end
  return l
end

-- batch positions ordered by decreasing length (stable: ties keep their order, as
-- PyTorch's sort gives); with enforce_sorted the order must already be so
local function sort_order(fn, l, enforce_sorted)
  local order = {}
  for i = 1, #l do order[i] = i end
  if enforce_sorted then
    for i = 2, #l do
      if l[i] > l[i - 1] then
        error(fn .. ': `lengths` array must be sorted in decreasing order when `enforce_sorted` is true ' ..
          ('(got %s). Pass {enforce_sorted=false} to pack_padded_sequence and/or pack_sequence '):format(list_str(l)) ..
          'to sidestep this requirement', 3)
      end
    end
    return order, false
  end
  table.sort(order, function(a, b)
    if l[a] ~= l[b] then return l[a] > l[b] end
    return a < b
  end)
  return order, true
end

-- batch_sizes[t] = how many of the lengths (sorted decreasing) are >= t
local function batch_sizes_of(sorted_lens)
  local bs = {}
  local n = #sorted_lens
  for t = 1, sorted_lens[1] or 0 do
    while n > 0 and sorted_lens[n] < t do n = n - 1 end
    bs[t] = n
  end
  return bs
end

local function invert(perm)
  local inv = {}
  for i, p in ipairs(perm) do inv[p] = i end
  return inv
end

-- a Lua list from a 1-D int64 index tensor, or nil
local function index_list(t)
  if t == nil then return nil end
  return t:detach():cpu():tolist()
end

-- ---- PackedSequence ----

local PackedSequence = torch.class('nn.utils.rnn.PackedSequence')
rnn.PackedSequence = PackedSequence

local function check_perm(what, t, n)
  if t == nil then return end
  if not torch.isTensor(t) or t:dim() ~= 1 or t.dtype ~= 'int64' then
    error(('PackedSequence: %s must be a 1-D int64 tensor or nil, got %s'):format(what,
      torch.isTensor(t) and (t.dtype .. ' of size ' .. shape_str(t)) or torch.type(t)), 3)
  end
  local l = index_list(t)
  local seen = {}
  for _, v in ipairs(l) do
    if v < 1 or v > n or seen[v] then
      error(('PackedSequence: %s must be a permutation of 1..%d (1-based), got %s'):format(what, n, list_str(l)), 3)
    end
    seen[v] = true
  end
  if #l ~= n then
    error(('PackedSequence: %s must have one entry per sequence (%d), got %d'):format(what, n, #l), 3)
  end
end

-- PackedSequence(data, batch_sizes [, sorted_indices [, unsorted_indices]]):
-- data (sum(batch_sizes), *); batch_sizes a 1-D int64 CPU tensor (or a list),
-- non-increasing and positive; sorted_indices / unsorted_indices 1-D int64
-- tensors of 1-based batch positions or nil (unsorted_indices is computed from
-- sorted_indices when left out). Normally built by pack_padded_sequence /
-- pack_sequence, or by a recurrent layer for its output.
function PackedSequence:__init(data, batch_sizes, sorted_indices, unsorted_indices)
  if not torch.isTensor(data) or data:dim() < 1 then
    error('PackedSequence: data must be a tensor of at least 1 dim, got ' ..
      (torch.isTensor(data) and 'a 0-d tensor' or torch.type(data)), 2)
  end
  if type(batch_sizes) == 'table' and getmetatable(batch_sizes) == nil then
    batch_sizes = int64(batch_sizes)
  end
  if not torch.isTensor(batch_sizes) or batch_sizes:dim() ~= 1 or batch_sizes.dtype ~= 'int64' then
    error('PackedSequence: batch_sizes must be a 1-D int64 tensor, got ' ..
      (torch.isTensor(batch_sizes) and (batch_sizes.dtype .. ' of size ' .. shape_str(batch_sizes)) or torch.type(batch_sizes)), 2)
  end
  if batch_sizes.device ~= 'cpu' then batch_sizes = batch_sizes:cpu() end
  local bs, total = batch_sizes:tolist(), 0
  for t, b in ipairs(bs) do
    if b < 1 or (t > 1 and b > bs[t - 1]) then
      error(('PackedSequence: batch_sizes must be positive and non-increasing, got %s'):format(list_str(bs)), 2)
    end
    total = total + b
  end
  if total ~= data:size(1) then
    error(('PackedSequence: batch_sizes sum to %d but data has %d rows (data size %s)')
      :format(total, data:size(1), shape_str(data)), 2)
  end
  local n = bs[1] or 0
  if sorted_indices ~= nil and unsorted_indices == nil then
    check_perm('sorted_indices', sorted_indices, n)
    unsorted_indices = int64(invert(index_list(sorted_indices)), sorted_indices.device)
  else
    check_perm('sorted_indices', sorted_indices, n)
    check_perm('unsorted_indices', unsorted_indices, n)
  end
  self.data = data
  self.batch_sizes = batch_sizes
  self.sorted_indices = sorted_indices
  self.unsorted_indices = unsorted_indices
end

-- properties that follow data: ps.is_cuda, ps.device, ps.dtype
function PackedSequence:__index_missing(k)
  if k == 'is_cuda' or k == 'device' or k == 'dtype' then
    local d = rawget(self, 'data')
    return d and d[k]
  end
end

-- ps:to(dtype | device | tensor | options): data converted as Tensor:to does; the
-- indices follow data's device, batch_sizes stays on the CPU. Returns ps itself
-- when nothing changes (as PyTorch does).
local function with_data(self, d)
  if d == self.data then return self end
  local function move(t)
    if t == nil or t.device == d.device then return t end
    return t:to(d.device)
  end
  return PackedSequence(d, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))
end

function PackedSequence:to(...)
  return with_data(self, self.data:to(...))
end

-- ps:float(), ps:double(), ps:cuda(), ps:cpu() ...: the same on data
for _, m in ipairs { 'float', 'double', 'half', 'bfloat16', 'long', 'int', 'short', 'char', 'byte', 'bool', 'cuda', 'cpu' } do
  PackedSequence[m] = function(self, ...)
    return with_data(self, self.data[m](self.data, ...))
  end
end

function PackedSequence:__tostring()
  local function s(t) return t == nil and 'nil' or tostring(t) end
  return ('PackedSequence(data=%s, batch_sizes=%s, sorted_indices=%s, unsorted_indices=%s)')
    :format(s(self.data), s(self.batch_sizes), s(self.sorted_indices), s(self.unsorted_indices))
end

-- invert_permutation(perm): the inverse of a 1-D int64 permutation of 1..n (nil -> nil)
function rnn.invert_permutation(perm)
  if perm == nil then return nil end
  if not torch.isTensor(perm) or perm:dim() ~= 1 then
    error('invert_permutation: expected a 1-D int64 tensor, got ' .. torch.type(perm), 2)
  end
  return int64(invert(index_list(perm)), perm.device)
end

-- ---- packing ----

-- pack_padded_sequence(input, lengths [, {batch_first=false, enforce_sorted=true}]):
-- input (T, B, *) or, with batch_first, (B, T, *); lengths (B) a tensor or a list.
-- With enforce_sorted the lengths must be non-increasing; otherwise the batch is
-- sorted here and sorted_indices / unsorted_indices record how.
function rnn.pack_padded_sequence(input, lengths, ...)
  local fn = 'pack_padded_sequence'
  local a = nn._args(fn, { 'batch_first', 'enforce_sorted' }, { batch_first = false, enforce_sorted = true }, ...)
  if not torch.isTensor(input) or input:dim() < 2 then
    error(('%s: expected input of size %s x *, got %s'):format(fn, a.batch_first and 'B x T' or 'T x B',
      torch.isTensor(input) and ('size ' .. shape_str(input)) or torch.type(input)), 2)
  end
  local bf = a.batch_first
  local T, B = input:size(bf and 2 or 1), input:size(bf and 1 or 2)
  if B == 0 then error(('%s: cannot pack an empty batch (input size %s)'):format(fn, shape_str(input)), 2) end
  local l = read_lengths(fn, lengths, B, T)
  local order, sorted = sort_order(fn, l, a.enforce_sorted)
  local sl = {}
  for j, b in ipairs(order) do sl[j] = l[b] end
  local bs = batch_sizes_of(sl)
  -- row of input:reshape(T*B, *) (or (B*T, *)) for each packed row
  local idx, k = {}, 0
  for t = 1, #bs do
    for j = 1, bs[t] do
      local b = order[j]
      k = k + 1
      idx[k] = bf and (b - 1) * T + t or (t - 1) * B + b
    end
  end
  local rest = trailing(input, 2)
  local flat = input:reshape(concat_shape({ T * B }, rest))
  local data = gather(flat, idx, concat_shape({ k }, rest))
  local si = sorted and int64(order, input.device) or nil
  return PackedSequence(data, int64(bs), si, sorted and int64(invert(order), input.device) or nil)
end

local function check_sequences(fn, sequences, min_dim)
  if torch.isTensor(sequences) then
    local list = {}
    for i = 1, sequences:size(1) do list[i] = sequences:select(1, i) end
    sequences = list
  end
  if type(sequences) ~= 'table' or getmetatable(sequences) ~= nil then
    error(('%s: expected a list of tensors, got %s'):format(fn, torch.type(sequences)), 3)
  end
  if #sequences == 0 then error(fn .. ': received an empty list of sequences', 3) end
  local rest
  for i, s in ipairs(sequences) do
    if not torch.isTensor(s) then
      error(('%s: element %d of the list is a %s, not a tensor'):format(fn, i, torch.type(s)), 3)
    end
    if s:dim() < min_dim then
      error(('%s: sequence %d must have a time dim (L x *), got a 0-d tensor'):format(fn, i), 3)
    end
    local r = trailing(s, 1)
    if not rest then
      rest = r
    else
      local same = #r == #rest
      for d = 1, #r do same = same and r[d] == rest[d] end
      if not same then
        error(('%s: every sequence must be L x * with the same *; sequence 1 has size %s, sequence %d has size %s')
          :format(fn, shape_str(sequences[1]), i, shape_str(s)), 3)
      end
    end
  end
  return sequences, rest
end

-- the sequences concatenated along time, with the 1-based row where each starts
local function concat_sequences(seqs)
  local offs, n = {}, 0
  for i, s in ipairs(seqs) do
    offs[i] = n
    n = n + s:size(1)
  end
  local src = #seqs == 1 and seqs[1] or torch.cat(seqs, 1)
  return src, offs, n
end

-- pack_sequence(sequences [, {enforce_sorted=true}]): a list of tensors L_i x *
-- packed directly (no padded intermediate)
function rnn.pack_sequence(sequences, ...)
  local fn = 'pack_sequence'
  local a = nn._args(fn, { 'enforce_sorted' }, { enforce_sorted = true }, ...)
  local seqs, rest = check_sequences(fn, sequences, 1)
  local l = {}
  for i, s in ipairs(seqs) do
    l[i] = s:size(1)
    if l[i] == 0 then
      error(('%s: cannot pack empty sequences: sequence %d has length 0'):format(fn, i), 2)
    end
  end
  local order, sorted = sort_order(fn, l, a.enforce_sorted)
  local sl = {}
  for j, b in ipairs(order) do sl[j] = l[b] end
  local bs = batch_sizes_of(sl)
  local src, offs = concat_sequences(seqs)
  local idx, k = {}, 0
  for t = 1, #bs do
    for j = 1, bs[t] do
      k = k + 1
      idx[k] = offs[order[j]] + t
    end
  end
  local data = gather(src, idx, concat_shape({ k }, rest))
  local dev = seqs[1].device
  return PackedSequence(data, int64(bs), sorted and int64(order, dev) or nil,
    sorted and int64(invert(order), dev) or nil)
end

-- ---- padding ----

-- pad_packed_sequence(sequence [, {batch_first=false, padding_value=0, total_length=nil}])
-- -> padded (T, B, *) or (B, T, *) in the original batch order, lengths (B) int64
function rnn.pad_packed_sequence(sequence, ...)
  local fn = 'pad_packed_sequence'
  local a = nn._args(fn, { 'batch_first', 'padding_value', 'total_length' },
    { batch_first = false, padding_value = 0 }, ...)
  if not torch.isTypeOf(sequence, PackedSequence) then
    error(('%s: expected a PackedSequence, got %s'):format(fn, torch.type(sequence)), 2)
  end
  if type(a.padding_value) ~= 'number' then
    error(('%s: padding_value must be a number, got %s'):format(fn, type(a.padding_value)), 2)
  end
  local bs = sequence.batch_sizes:tolist()
  local Tmax, B = #bs, bs[1] or 0
  local T = Tmax
  if a.total_length ~= nil then
    T = math.type(a.total_length) == 'integer' and a.total_length or
      error(('%s: total_length must be an integer, got %s'):format(fn, tostring(a.total_length)), 2)
    if T < Tmax then
      error(('%s: expected total_length to be at least the length of the longest sequence in input, ' ..
        'but got total_length=%d and max sequence length being %d'):format(fn, T, Tmax), 2)
    end
  end
  local off, n = {}, 0
  for t = 1, Tmax do
    off[t] = n
    n = n + bs[t]
  end
  local sl = {}
  for t = 1, Tmax do
    for j = 1, bs[t] do sl[j] = t end
  end
  local unsorted = index_list(sequence.unsorted_indices)
  local lengths = {}
  for i = 1, B do lengths[i] = sl[unsorted and unsorted[i] or i] end
  local data = sequence.data
  local rest = trailing(data, 1)
  local pad_row = n + 1
  local needs_pad = T > Tmax or (bs[Tmax] or 0) < B
  local idx, k = {}, 0
  local function row(t, i)
    local j = unsorted and unsorted[i] or i
    if t <= Tmax and j <= bs[t] then return off[t] + j end
    return pad_row
  end
  if a.batch_first then
    for i = 1, B do
      for t = 1, T do k = k + 1; idx[k] = row(t, i) end
    end
  else
    for t = 1, T do
      for i = 1, B do k = k + 1; idx[k] = row(t, i) end
    end
  end
  local src = needs_pad and with_pad_row(data, a.padding_value) or data
  local shape = a.batch_first and { B, T } or { T, B }
  local padded = gather(src, idx, concat_shape(shape, rest))
  return padded, int64(lengths)
end

-- pad_sequence(sequences [, {batch_first=false, padding_value=0, padding_side='right'}]):
-- a list of tensors L_i x * -> (max L, n, *) or (n, max L, *)
function rnn.pad_sequence(sequences, ...)
  local fn = 'pad_sequence'
  local a = nn._args(fn, { 'batch_first', 'padding_value', 'padding_side' },
    { batch_first = false, padding_value = 0, padding_side = 'right' }, ...)
  if a.padding_side ~= 'right' and a.padding_side ~= 'left' then
    error(("%s: padding_side must be 'left' or 'right', got %s"):format(fn, tostring(a.padding_side)), 2)
  end
  if type(a.padding_value) ~= 'number' then
    error(('%s: padding_value must be a number, got %s'):format(fn, type(a.padding_value)), 2)
  end
  local seqs, rest = check_sequences(fn, sequences, 1)
  local B, T, l = #seqs, 0, {}
  for i, s in ipairs(seqs) do
    l[i] = s:size(1)
    if l[i] > T then T = l[i] end
  end
  local src, offs, n = concat_sequences(seqs)
  local pad_row, needs_pad = n + 1, false
  local left = a.padding_side == 'left'
  local function row(t, i)
    local s = left and t - (T - l[i]) or t
    if s >= 1 and s <= l[i] then return offs[i] + s end
    needs_pad = true
    return pad_row
  end
  local idx, k = {}, 0
  if a.batch_first then
    for i = 1, B do
      for t = 1, T do k = k + 1; idx[k] = row(t, i) end
    end
  else
    for t = 1, T do
      for i = 1, B do k = k + 1; idx[k] = row(t, i) end
    end
  end
  if needs_pad then src = with_pad_row(src, a.padding_value) end
  local shape = a.batch_first and { B, T } or { T, B }
  if k == 0 then -- every sequence empty
    return torch.empty(concat_shape(shape, rest), { dtype = src.dtype, device = src.device })
  end
  return gather(src, idx, concat_shape(shape, rest))
end

-- unpad_sequence(padded, lengths [, {batch_first=false}]) -> list of tensors L_i x *
-- (views of padded)
function rnn.unpad_sequence(padded, lengths, ...)
  local fn = 'unpad_sequence'
  local a = nn._args(fn, { 'batch_first' }, { batch_first = false }, ...)
  if not torch.isTensor(padded) or padded:dim() < 2 then
    error(('%s: expected padded of size %s x *, got %s'):format(fn, a.batch_first and 'B x T' or 'T x B',
      torch.isTensor(padded) and ('size ' .. shape_str(padded)) or torch.type(padded)), 2)
  end
  local bdim = a.batch_first and 1 or 2
  local T, B = padded:size(3 - bdim), padded:size(bdim)
  local l = read_lengths(fn, lengths, B, T, 0)
  local res = {}
  for i = 1, B do
    res[i] = padded:select(bdim, i):narrow(1, 1, l[i])
  end
  return res
end

-- unpack_sequence(packed) -> the list of sequences L_i x *, in the original order
function rnn.unpack_sequence(packed)
  if not torch.isTypeOf(packed, PackedSequence) then
    error('unpack_sequence: expected a PackedSequence, got ' .. torch.type(packed), 2)
  end
  local padded, lengths = rnn.pad_packed_sequence(packed, { batch_first = true })
  return rnn.unpad_sequence(padded, lengths, { batch_first = true })
end

return rnn
