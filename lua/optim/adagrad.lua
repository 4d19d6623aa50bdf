-- optim.Adagrad (lr_decay, weight_decay, initial_accumulator_value, eps, maximize),
-- PyTorch 2's formulas and defaults (lr=1e-2, eps=1e-10); one fused C pass per
-- parameter (torch._adagrad_step). State: step, sum (created at construction, as
-- PyTorch does, filled with initial_accumulator_value).
local torch = require 'torch'
local optim = require 'optim'

local Adagrad, parent = torch.class('optim.Adagrad', 'optim.Optimizer')
Adagrad._options = { 'lr', 'lr_decay', 'weight_decay', 'initial_accumulator_value', 'eps', 'maximize', 'foreach',
  'differentiable', 'fused' }
Adagrad._defaults = { lr = 1e-2, lr_decay = 0, weight_decay = 0, initial_accumulator_value = 0, eps = 1e-10,
  maximize = false, foreach = false, differentiable = false, fused = false }

function Adagrad:__init(params, opts) parent.__init(self, params, opts) end

function Adagrad:_check(o)
  self:_check_number(o, 'lr', 0)
  self:_check_number(o, 'lr_decay', 0)
  self:_check_number(o, 'weight_decay', 0)
  self:_check_number(o, 'initial_accumulator_value', 0)
  self:_check_number(o, 'eps', 0)
  self:_check_bool(o, 'maximize')
end

function Adagrad:_on_add_group(g)
  for _, p in ipairs(g.params) do
    self.state[p] = { step = 0, sum = torch.full_like(p, g.initial_accumulator_value) }
  end
end

function Adagrad:_update(g)
  local o = { lr = g.lr, lr_decay = g.lr_decay, weight_decay = g.weight_decay, eps = g.eps, maximize = g.maximize }
  for _, e in ipairs(self:_with_grad(g)) do
    local p, grad, st = e[1], e[2], e[3]
    if not st.sum then st.step, st.sum = 0, torch.full_like(p, g.initial_accumulator_value) end
    st.step = st.step + 1
    o.step = st.step
    torch._adagrad_step(p, optim._contig(self, p, grad), st.sum, o)
  end
end

return Adagrad
