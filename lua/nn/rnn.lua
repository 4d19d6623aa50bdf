-- Recurrent layers: nn.RNNCell, nn.LSTMCell, nn.GRUCell and nn.RNN, nn.LSTM, nn.GRU
-- with PyTorch's arguments, gate order, parameter names, shapes, initialisation and
-- output layouts. Each layer and direction is one call of torch._rnn (core/rnn.c): the
-- whole sequence in C (one GEMM for the input projection, one GEMM plus one fused gate
-- kernel per step, backward through time in C). Packed sequences
-- (nn.utils.rnn.PackedSequence) run only the active rows of each step.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local args = nn._args

local PACKED = 'nn.utils.rnn.PackedSequence'

local function factory(a)
  return { dtype = a.dtype, device = a.device }
end

local function check_int(what, name, v, min)
  if math.type(v) ~= 'integer' or v < min then
    error(('%s: %s must be an integer >= %d, got %s'):format(what, name, min, tostring(v)), 4)
  end
end

local function size_str(x)
  return F._size_str(x)
end

-- U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter, as PyTorch
local function reset_uniform(self)
  local bound = self.hidden_size > 0 and 1 / math.sqrt(self.hidden_size) or 0
  for _, p in ipairs(self:parameters()) do nn.init.uniform_(p, -bound, bound) end
end

local GATES = { RNN_TANH = 1, RNN_RELU = 1, LSTM = 4, GRU = 3 }

local function rnn_mode(what, nonlinearity)
  if nonlinearity == 'tanh' then return 'RNN_TANH' end
  if nonlinearity == 'relu' then return 'RNN_RELU' end
  error(("%s: nonlinearity must be 'tanh' or 'relu', got '%s'"):format(what, tostring(nonlinearity)), 4)
end

-- ---- cells ----

local RNNCellBase, Module = torch.class('nn.RNNCellBase', 'nn.Module')

function RNNCellBase:__init(what, mode, a)
  Module.__init(self)
  check_int(what, 'input_size', a.input_size, 1)
  check_int(what, 'hidden_size', a.hidden_size, 1)
  self.input_size, self.hidden_size, self.bias_on = a.input_size, a.hidden_size, a.bias ~= false
  self._what, self._mode = what, mode
  local G = GATES[mode] * a.hidden_size
  self.weight_ih = nn.Parameter(torch.empty(G, a.input_size, factory(a)))
  self.weight_hh = nn.Parameter(torch.empty(G, a.hidden_size, factory(a)))
  if self.bias_on then
    self.bias_ih = nn.Parameter(torch.empty(G, factory(a)))
    self.bias_hh = nn.Parameter(torch.empty(G, factory(a)))
  else
    self:register_parameter('bias_ih', nil)
    self:register_parameter('bias_hh', nil)
  end
  self:reset_parameters()
end

RNNCellBase.reset_parameters = reset_uniform

-- input (batch, input_size) or (input_size); a state (batch, hidden) or (hidden)
-- matching it; returns the 2-d input, the state check, and whether it was unbatched
function RNNCellBase:_input(x)
  local what = self._what
  if not torch.isTensor(x) then error(what .. ': expected a tensor as input, got ' .. torch.type(x), 4) end
  if (x:dim() ~= 1 and x:dim() ~= 2) or x:size(x:dim()) ~= self.input_size then
    error(('%s: expected input of size (batch, %d) or (%d), got %s'):format(what, self.input_size,
      self.input_size, size_str(x)), 4)
  end
  local unbatched = x:dim() == 1
  if unbatched then x = x:unsqueeze(1) end
  return x, unbatched
end

function RNNCellBase:_state(h, x, unbatched, name)
  local B, H = x:size(1), self.hidden_size
  if h == nil then return torch.zeros(B, H, { dtype = x.dtype, device = x.device }) end
  if not torch.isTensor(h) then error(('%s: %s must be a tensor, got %s'):format(self._what, name, torch.type(h)), 4) end
  local want = unbatched and 1 or 2
  if h:dim() ~= want or h:size(1) ~= (unbatched and H or B) or (not unbatched and h:size(2) ~= H) then
    error(('%s: expected %s of size %s, got %s'):format(self._what, name,
      unbatched and ('(%d)'):format(H) or ('(%d, %d)'):format(B, H), size_str(h)), 4)
  end
  return unbatched and h:unsqueeze(1) or h
end

-- one step of the fused kernel: T = 1, batch_sizes = {B}
function RNNCellBase:_step(x, h, c)
  local bs = torch.tensor({ x:size(1) })
  local _, hn, cn = torch._rnn(self._mode, x:contiguous(), bs, h, c, self.weight_ih, self.weight_hh,
    self.bias_ih, self.bias_hh, false)
  return hn, cn
end

function RNNCellBase:extra_repr()
  local s = ('%d, %d'):format(self.input_size, self.hidden_size)
  if not self.bias_on then s = s .. ', bias=false' end
  if self.nonlinearity and self.nonlinearity ~= 'tanh' then s = s .. ", nonlinearity='" .. self.nonlinearity .. "'" end
  return s
end

local RNNCell = torch.class('nn.RNNCell', 'nn.RNNCellBase')

-- nn.RNNCell(input_size, hidden_size [, bias=true, nonlinearity='tanh'] | {..., dtype=, device=})
-- h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh); cell(x [, h]) -> h'
function RNNCell:__init(...)
  local a = args('RNNCell', { 'input_size', 'hidden_size', 'bias', 'nonlinearity', 'dtype', 'device' },
    { bias = true, nonlinearity = 'tanh' }, ...)
  self.nonlinearity = a.nonlinearity
  RNNCellBase.__init(self, 'RNNCell', rnn_mode('RNNCell', a.nonlinearity), a)
end

function RNNCell:forward(x, h)
  local unbatched
  x, unbatched = self:_input(x)
  h = self:_state(h, x, unbatched, 'hx')
  local hn = self:_step(x, h)
  return unbatched and hn:squeeze(1) or hn
end

local GRUCell = torch.class('nn.GRUCell', 'nn.RNNCellBase')

-- nn.GRUCell(input_size, hidden_size [, bias=true]); gates r, z, n (PyTorch's order);
-- cell(x [, h]) -> h'
function GRUCell:__init(...)
  local a = args('GRUCell', { 'input_size', 'hidden_size', 'bias', 'dtype', 'device' }, { bias = true }, ...)
  RNNCellBase.__init(self, 'GRUCell', 'GRU', a)
end

GRUCell.forward = RNNCell.forward

local LSTMCell = torch.class('nn.LSTMCell', 'nn.RNNCellBase')

-- nn.LSTMCell(input_size, hidden_size [, bias=true]); gates i, f, g, o (PyTorch's
-- order); cell(x [, {h, c}]) -> h', c' (two values)
function LSTMCell:__init(...)
  local a = args('LSTMCell', { 'input_size', 'hidden_size', 'bias', 'dtype', 'device' }, { bias = true }, ...)
  RNNCellBase.__init(self, 'LSTMCell', 'LSTM', a)
end

function LSTMCell:forward(x, hx)
  local unbatched
  x, unbatched = self:_input(x)
  local h, c
  if hx ~= nil then
    if type(hx) ~= 'table' or torch.isTensor(hx) then
      error('LSTMCell: the state must be a table {h, c}, got ' .. torch.type(hx), 2)
    end
    h, c = hx[1], hx[2]
    if h == nil or c == nil then error('LSTMCell: the state must be a table {h, c} with both tensors', 2) end
  end
  h = self:_state(h, x, unbatched, 'h')
  c = self:_state(c, x, unbatched, 'c')
  local hn, cn = self:_step(x, h, c)
  if unbatched then return hn:squeeze(1), cn:squeeze(1) end
  return hn, cn
end

-- ---- layers ----

local proj_lstm -- defined below (LSTM with proj_size)

local RNNBase = torch.class('nn.RNNBase', 'nn.Module')

function RNNBase:__init(what, mode, a)
  Module.__init(self)
  check_int(what, 'input_size', a.input_size, 1)
  check_int(what, 'hidden_size', a.hidden_size, 1)
  check_int(what, 'num_layers', a.num_layers, 1)
  local p = a.dropout
  if type(p) ~= 'number' or p < 0 or p > 1 then
    error(('%s: dropout must be a number in [0, 1], got %s'):format(what, tostring(p)), 3)
  end
  local P = a.proj_size or 0
  if P ~= 0 then
    check_int(what, 'proj_size', P, 0)
    if P >= a.hidden_size then
      error(('%s: proj_size (%d) has to be smaller than hidden_size (%d)'):format(what, P, a.hidden_size), 3)
    end
  end
  self._what, self.mode = what, mode
  self.input_size, self.hidden_size, self.num_layers = a.input_size, a.hidden_size, a.num_layers
  self.bias, self.batch_first, self.dropout = a.bias ~= false, a.batch_first == true, p
  self.bidirectional, self.proj_size = a.bidirectional == true, P
  local D = self.bidirectional and 2 or 1
  local G = GATES[mode] * a.hidden_size
  local out_size = P > 0 and P or a.hidden_size -- the size of h (LSTM with proj_size: P)
  -- PyTorch's order: per layer, per direction: w_ih, w_hh, b_ih, b_hh (, w_hr)
  self._names = {}
  for l = 0, a.num_layers - 1 do
    local in_size = l == 0 and a.input_size or out_size * D
    for d = 0, D - 1 do
      local sfx = ('_l%d%s'):format(l, d == 1 and '_reverse' or '')
      local names = { 'weight_ih' .. sfx, 'weight_hh' .. sfx, 'bias_ih' .. sfx, 'bias_hh' .. sfx }
      self[names[1]] = nn.Parameter(torch.empty(G, in_size, factory(a)))
      self[names[2]] = nn.Parameter(torch.empty(G, out_size, factory(a)))
      if self.bias then
        self[names[3]] = nn.Parameter(torch.empty(G, factory(a)))
        self[names[4]] = nn.Parameter(torch.empty(G, factory(a)))
      end
      if P > 0 then
        names[5] = 'weight_hr' .. sfx
        self[names[5]] = nn.Parameter(torch.empty(P, a.hidden_size, factory(a)))
      end
      self._names[#self._names + 1] = names
    end
  end
  self:reset_parameters()
end

RNNBase.reset_parameters = reset_uniform

function RNNBase:extra_repr()
  local s = ('%d, %d'):format(self.input_size, self.hidden_size)
  if self.num_layers ~= 1 then s = s .. ', num_layers=' .. self.num_layers end
  if self.nonlinearity and self.nonlinearity ~= 'tanh' then s = s .. ", nonlinearity='" .. self.nonlinearity .. "'" end
  if not self.bias then s = s .. ', bias=false' end
  if (self.proj_size or 0) > 0 then s = s .. ', proj_size=' .. self.proj_size end
  if self.batch_first then s = s .. ', batch_first=true' end
  if self.dropout ~= 0 then s = s .. ', dropout=' .. self.dropout end
  if self.bidirectional then s = s .. ', bidirectional=true' end
  return s
end

local function packed_class()
  local utils = rawget(nn, 'utils')
  local r = type(utils) == 'table' and rawget(utils, 'rnn') or nil
  return (type(r) == 'table' and r.PackedSequence) or torch.getclass(PACKED)
end

-- a state tensor (L*D, B, H) ((L*D, H) unbatched) or zeros; sorted into the packed order
function RNNBase:_state(h, name, B, unbatched, sorted, ref, size)
  local LD, H = self.num_layers * (self.bidirectional and 2 or 1), size or self.hidden_size
  if h == nil then return torch.zeros(LD, B, H, { dtype = ref.dtype, device = ref.device }) end
  if not torch.isTensor(h) then error(('%s: %s must be a tensor, got %s'):format(self._what, name, torch.type(h)), 4) end
  local ok
  if unbatched then
    ok = h:dim() == 2 and h:size(1) == LD and h:size(2) == H
  else
    ok = h:dim() == 3 and h:size(1) == LD and h:size(2) == B and h:size(3) == H
  end
  if not ok then
    error(('%s: expected %s of size %s, got %s'):format(self._what, name,
      unbatched and ('(%d, %d)'):format(LD, H) or ('(%d, %d, %d)'):format(LD, B, H), size_str(h)), 4)
  end
  if unbatched then h = h:unsqueeze(2) end
  if sorted then h = h:index_select(2, sorted) end
  return h
end

-- LSTM with a projection (proj_size > 0): h = (o * tanh(c)) W_hr^T. The time loop runs
-- in Lua over differentiable ops (the C kernel has no projection): x (N rows, time-major
-- packed), batch_sizes per step (non-increasing), h0 (B, P), c0 (B, H). Returns the
-- output rows (N, P) and the final h (B, P) and c (B, H) of every sequence.
proj_lstm = function(x, batch_sizes, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse)
  local bs = batch_sizes:tolist()
  local T, H = #bs, c0:size(2)
  local xp = b_ih and torch.addmm(b_ih, x, w_ih:t()) or x:mm(w_ih:t())
  local off, acc = {}, 0
  for t = 1, T do off[t], acc = acc, acc + bs[t] end
  local function step(t, h, c)
    local g = xp:narrow(1, off[t] + 1, bs[t]) + h:mm(w_hh:t())
    if b_hh then g = g + b_hh end
    local i, f = torch.sigmoid(g:narrow(2, 1, H)), torch.sigmoid(g:narrow(2, H + 1, H))
    local gg, o = torch.tanh(g:narrow(2, 2 * H + 1, H)), torch.sigmoid(g:narrow(2, 3 * H + 1, H))
    c = f * c + i * gg
    return (o * torch.tanh(c)):mm(w_hr:t()), c
  end
  local outs, hparts, cparts = {}, {}, {}
  if not reverse then
    local h, c, rows = h0, c0, h0:size(1)
    for t = 1, T do
      local b = bs[t]
      if b < rows then -- rows b+1..rows ended at the last step
        hparts[#hparts + 1], cparts[#cparts + 1] = h:narrow(1, b + 1, rows - b), c:narrow(1, b + 1, rows - b)
        h, c, rows = h:narrow(1, 1, b), c:narrow(1, 1, b), b
      end
      h, c = step(t, h, c)
      outs[t] = h
    end
    hparts[#hparts + 1], cparts[#cparts + 1] = h, c
    local hn, cn = {}, {} -- the parts were collected from the last rows up
    for k = #hparts, 1, -1 do hn[#hn + 1], cn[#cn + 1] = hparts[k], cparts[k] end
    return torch.cat(outs, 1), torch.cat(hn, 1), torch.cat(cn, 1)
  end
  local h, c, rows
  for t = T, 1, -1 do
    local b = bs[t]
    if not h then
      h, c, rows = h0:narrow(1, 1, b), c0:narrow(1, 1, b), b
    elseif b > rows then -- sequences that start here take their initial state
      h = torch.cat({ h, h0:narrow(1, rows + 1, b - rows) }, 1)
      c = torch.cat({ c, c0:narrow(1, rows + 1, b - rows) }, 1)
      rows = b
    end
    h, c = step(t, h, c)
    outs[t] = h
  end
  return torch.cat(outs, 1), h, c
end

-- forward(input [, hx]) -> output, h_n (LSTM: output, {h_n, c_n})
-- input (seq, batch, input_size), (batch, seq, input_size) with batch_first, (seq,
-- input_size) unbatched, or a PackedSequence; hx (num_layers * num_directions, batch,
-- hidden_size), directions interleaved per layer (LSTM: {h_0, c_0})
function RNNBase:forward(input, hx)
  local what, I = self._what, self.input_size
  local lstm = self.mode == 'LSTM'
  local x, batch_sizes, B, T, unbatched, sorted, unsorted
  local packed = torch.type(input) == PACKED
  if packed then
    x, batch_sizes = input.data, input.batch_sizes
    if not torch.isTensor(x) or x:dim() ~= 2 or x:size(2) ~= I then
      error(('%s: expected packed data of size (rows, %d), got %s'):format(what, I,
        torch.isTensor(x) and size_str(x) or torch.type(x)), 2)
    end
    if not torch.isTensor(batch_sizes) or batch_sizes:dim() ~= 1 or batch_sizes:numel() == 0 then
      error(what .. ': the PackedSequence has no batch_sizes', 2)
    end
    B = batch_sizes[1]
    sorted, unsorted = input.sorted_indices, input.unsorted_indices
  else
    if not torch.isTensor(input) then
      error(what .. ': expected a tensor or a PackedSequence as input, got ' .. torch.type(input), 2)
    end
    if (input:dim() ~= 2 and input:dim() ~= 3) or input:size(input:dim()) ~= I then
      error(('%s: expected input of size (seq, batch, %d)%s or unbatched (seq, %d), got %s'):format(what, I,
        self.batch_first and ' with batch_first: (batch, seq, ' .. I .. ')' or '', I, size_str(input)), 2)
    end
    unbatched = input:dim() == 2
    x = input
    if unbatched then
      x = x:unsqueeze(2)
    elseif self.batch_first then
      x = x:transpose(1, 2)
    end
    T, B = x:size(1), x:size(2)
    if T == 0 or B == 0 then error(('%s: expected a non-empty input, got %s'):format(what, size_str(input)), 2) end
    x = x:reshape(T * B, I)
    batch_sizes = torch.full({ T }, B, { dtype = 'int64' })
  end
  local h0, c0
  if lstm then
    if hx ~= nil then
      if type(hx) ~= 'table' or torch.isTensor(hx) or hx[1] == nil or hx[2] == nil then
        error(what .. ': the initial state must be a table {h_0, c_0}, got ' .. torch.type(hx), 2)
      end
      h0, c0 = hx[1], hx[2]
    end
    c0 = self:_state(c0, 'c_0', B, unbatched, sorted, x)
  else
    h0 = hx
  end
  local P = self.proj_size
  h0 = self:_state(h0, lstm and 'h_0' or 'hx', B, unbatched, sorted, x, P > 0 and P or nil)
  local D = self.bidirectional and 2 or 1
  local hs, cs = {}, {}
  local layer_in = x
  for l = 1, self.num_layers do
    local outs = {}
    for d = 1, D do
      local k = (l - 1) * D + d
      local n = self._names[k]
      local o, hn, cn
      if P > 0 then
        o, hn, cn = proj_lstm(layer_in, batch_sizes, h0:select(1, k), c0:select(1, k), self[n[1]], self[n[2]],
          self[n[3]], self[n[4]], self[n[5]], d == 2)
      else
        o, hn, cn = torch._rnn(self.mode, layer_in, batch_sizes, h0:select(1, k), c0 and c0:select(1, k),
          self[n[1]], self[n[2]], self[n[3]], self[n[4]], d == 2)
      end
      outs[d], hs[k], cs[k] = o, hn, cn
    end
    layer_in = D == 2 and torch.cat(outs, 2) or outs[1]
    if self.dropout > 0 and self.training and l < self.num_layers then
      layer_in = F.dropout(layer_in, { p = self.dropout, training = true })
    end
  end
  local h_n = torch.stack(hs, 1)
  local c_n = lstm and torch.stack(cs, 1) or nil
  local output
  if packed then
    if unsorted then
      h_n = h_n:index_select(2, unsorted)
      if c_n then c_n = c_n:index_select(2, unsorted) end
    end
    local PS = packed_class()
    output = PS(layer_in, batch_sizes, sorted, unsorted)
  else
    output = layer_in:view(T, B, D * (P > 0 and P or self.hidden_size))
    if unbatched then
      output = output:squeeze(2)
      h_n = h_n:squeeze(2)
      if c_n then c_n = c_n:squeeze(2) end
    elseif self.batch_first then
      output = output:transpose(1, 2)
    end
  end
  if lstm then return output, { h_n, c_n } end
  return output, h_n
end

local RNN = torch.class('nn.RNN', 'nn.RNNBase')

-- nn.RNN(input_size, hidden_size [, num_layers=1, nonlinearity='tanh', bias=true,
-- batch_first=false, dropout=0, bidirectional=false] | {..., dtype=, device=})
function RNN:__init(...)
  local a = args('RNN', { 'input_size', 'hidden_size', 'num_layers', 'nonlinearity', 'bias', 'batch_first',
    'dropout', 'bidirectional', 'dtype', 'device' },
    { num_layers = 1, nonlinearity = 'tanh', bias = true, batch_first = false, dropout = 0, bidirectional = false }, ...)
  self.nonlinearity = a.nonlinearity
  RNNBase.__init(self, 'RNN', rnn_mode('RNN', a.nonlinearity), a)
end

local LSTM = torch.class('nn.LSTM', 'nn.RNNBase')

-- nn.LSTM(input_size, hidden_size [, num_layers=1, bias=true, batch_first=false,
-- dropout=0, bidirectional=false, proj_size=0]); forward returns output, {h_n, c_n}; with
-- proj_size > 0, h (and the output) has proj_size features (PyTorch's weight_hr_l*)
function LSTM:__init(...)
  local a = args('LSTM', { 'input_size', 'hidden_size', 'num_layers', 'bias', 'batch_first', 'dropout',
    'bidirectional', 'proj_size', 'dtype', 'device' },
    { num_layers = 1, bias = true, batch_first = false, dropout = 0, bidirectional = false, proj_size = 0 }, ...)
  RNNBase.__init(self, 'LSTM', 'LSTM', a)
end

local GRU = torch.class('nn.GRU', 'nn.RNNBase')

-- nn.GRU(input_size, hidden_size [, num_layers=1, bias=true, batch_first=false,
-- dropout=0, bidirectional=false])
function GRU:__init(...)
  local a = args('GRU', { 'input_size', 'hidden_size', 'num_layers', 'bias', 'batch_first', 'dropout',
    'bidirectional', 'dtype', 'device' },
    { num_layers = 1, bias = true, batch_first = false, dropout = 0, bidirectional = false }, ...)
  RNNBase.__init(self, 'GRU', 'GRU', a)
end

return nn
